-- Search folds accents, in the messages and the query alike: `cafe` did not find `café`, `resume`
-- not `résumé`, `strasse` not `Straße` (nor the other way round), as the english configuration
-- keeps a letter's accent in its lexeme. The text is now read through PostgreSQL's `unaccent`
-- (a contrib extension hosted Supabase offers, in the `extensions` schema as btree_gin is) after
-- the NFKC form of 20261205170070: é, è, ê are e, ß is ss, Æ is AE, a combining accent after its
-- letter (e + U+0301) is dropped, Greek accents too. unaccent's rules hold no CJK character, so the
-- CJK bigrams, the query's and search_recheck's substrings are as they were.
--
-- unaccent() is only stable (its dictionary could be changed), and a generated column's function
-- must be immutable: search_fold() is the immutable wrapper, naming the dictionary by schema so it
-- reads the same under any search_path. (Changing unaccent's rules file later would want the
-- stale vectors recomputed, as below.)
--
-- Only messages whose text the fold changes are computed again, not the whole table (as
-- 20261205170070 did, rewriting every row and the index under a lock that stopped reads and
-- writes): a message whose text is all ASCII (octet_length = char_length) is skipped without
-- folding it, and the others are updated only where the fold changes them, with
-- `search_vector = default` (content untouched). chat_messages_touch_updated_at is off for that
-- update, so no message's updated_at moves; disabling it holds off other writes (not reads) to
-- chat_messages until this migration commits.

create extension if not exists unaccent with schema extensions;

create or replace function public.search_fold(txt text) returns text
language sql immutable parallel safe strict
set search_path = ''
as $$
  select extensions.unaccent('extensions.unaccent'::regdictionary, pg_catalog.normalize(txt, 'NFKC'))
$$;

-- 20261205170070_full_width_letters_and_digits_are_searched_as_ascii.sql's, the words folded.
create or replace function public.search_document(txt text) returns tsvector
language plpgsql
immutable parallel safe
as $$
declare
  norm text := pg_catalog.normalize(coalesce(txt, ''), 'NFKC');
begin
  return pg_catalog.to_tsvector('pg_catalog.english'::pg_catalog.regconfig,
                                pg_catalog.regexp_replace(public.search_fold(norm), public.search_cjk_pattern(), ' ', 'g'))
         operator(pg_catalog.||) pg_catalog.array_to_tsvector(public.search_cjk_terms(norm));
end;
$$;

-- 20261205170070's (with 20261205170060's linear join), the words folded.
create or replace function public.search_query(q text) returns tsquery
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  norm text := pg_catalog.normalize(coalesce(q, ''), 'NFKC');
  english tsquery := websearch_to_tsquery('pg_catalog.english'::regconfig,
                                         regexp_replace(public.search_fold(norm), public.search_cjk_pattern(), ' ', 'g'));
  cjk text;
begin
  -- Each CJK run as the AND of its bigrams (a single character: its unigram), the runs ANDed in
  -- order. The terms hold CJK characters only, so quote_literal makes each one a quoted lexeme.
  select string_agg(quote_literal(case when char_length(x.run) = 1 then x.run else substr(x.run, g.i, 2) end),
                    ' & ' order by r.run_no, g.i)
    into cjk
    from regexp_matches(norm, public.search_cjk_pattern(), 'g') with ordinality as r(m, run_no)
    cross join lateral (select r.m[1] as run) x
    cross join lateral generate_series(1, greatest(char_length(x.run) - 1, 1)) as g(i);
  if cjk is null then
    return english;
  end if;
  return case when numnode(english) = 0 then cjk::tsquery else english && cjk::tsquery end;
end;
$$;

alter table public.chat_messages disable trigger chat_messages_touch_updated_at;
update public.chat_messages
   set search_vector = default
 where search_vector is not null
   and octet_length(content) <> char_length(content)
   and public.search_fold(content) <> pg_catalog.normalize(content, 'NFKC');
alter table public.chat_messages enable trigger chat_messages_touch_updated_at;
