-- Search reads text in Unicode compatibility form (NFKC), the message's and the query's: full-width
-- letters and digits, which a Chinese input method types in its full-width mode and Chinese sources
-- are full of (ＰＹＴＨＯＮ, ２０２４年), were lexemes of their own, so `python` did not find
-- `ｐｙｔｈｏｎ` and `２０２４` did not find `2024` (nor the other way round). NFKC also makes a CJK
-- compatibility ideograph its unified character and half-width katakana full-width, on both sides.
-- Every message's search vector is computed again (the column is rebuilt, as in
-- 20261201211808_search_vector_when_final.sql); search_document, search_query and search_recheck
-- are their latest definitions with the text normalized first.

create or replace function public.search_document(txt text) returns tsvector
language plpgsql
immutable parallel safe
as $$
declare
  norm text := pg_catalog.normalize(coalesce(txt, ''), 'NFKC');
begin
  return pg_catalog.to_tsvector('pg_catalog.english'::pg_catalog.regconfig,
                                pg_catalog.regexp_replace(norm, public.search_cjk_pattern(), ' ', 'g'))
         operator(pg_catalog.||) pg_catalog.array_to_tsvector(public.search_cjk_terms(norm));
end;
$$;

create or replace function public.search_query(q text) returns tsquery
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  norm text := pg_catalog.normalize(coalesce(q, ''), 'NFKC');
  english tsquery := websearch_to_tsquery('pg_catalog.english'::regconfig,
                                         regexp_replace(norm, public.search_cjk_pattern(), ' ', 'g'));
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

create or replace function public.search_recheck(query text, content text) returns boolean
language sql
immutable parallel safe
as $$
  select not exists (
    select 1 from pg_catalog.regexp_matches(pg_catalog.normalize(query, 'NFKC'), public.search_cjk_pattern(), 'g') as r(run)
     where pg_catalog.strpos(pg_catalog.normalize(content, 'NFKC'), r.run[1]) = 0
  )
$$;

alter table public.chat_messages drop column search_vector;
alter table public.chat_messages
  add column search_vector tsvector generated always as (
    case when message_type = 'user' or status not in ('pending', 'streaming')
         then public.search_document(content) end
  ) stored;
create index chat_messages_search_idx on public.chat_messages using gin (search_vector);
