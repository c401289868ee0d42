-- A CJK word after a minus is left out, as an English one is: `weather -park` found weather without
-- the park (websearch_to_tsquery's `-`), but `天气 -公园` found only the messages holding both, the
-- minus dropped with the English part and 公园 ANDed like any CJK run (and search_recheck required
-- it). A CJK run is left out when a `-` starts its word (at the start or after a space, as
-- websearch_to_tsquery reads a minus; `x-天气` is no minus):
--
-- * search_query leaves it out of the bigrams it ANDs, and, for a run of one or two characters,
--   whose unigram or bigram says exactly whether a message holds it, ANDs its negation (`!'公园'`),
--   so the index skips those messages;
-- * search_recheck refuses a message holding it, as it refuses one missing a wanted run: exact for
--   a longer run, whose bigrams a message may hold apart (`公园 散步` holds 公园 and 散步 but not
--   公园散步, and is found by `天气 -公园散步`).
--
-- `or` between CJK runs is still read as and (the runs' bigrams are ANDed; known limit, README).
-- Stored vectors are unchanged: search_document is not touched.

create or replace function public.search_cjk_runs_pattern() returns text
language sql immutable parallel safe
set search_path = ''
as $$ select '((?:^|\s)-)?(' || public.search_cjk_pattern() || ')' $$;

-- 20261206100090_accents_are_folded_in_search.sql's, the runs after a minus left out.
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
  -- Each wanted CJK run as the AND of its bigrams (a single character: its unigram), the runs ANDed
  -- in order; a run after a minus of one or two characters as the negation of its one term. The
  -- terms hold CJK characters only, so quote_literal makes each one a quoted lexeme.
  select string_agg(t.term, ' & ' order by t.run_no, t.i)
    into cjk
    from (select r.run_no, g.i,
                 case when r.m[1] is null
                      then quote_literal(case when char_length(r.m[2]) = 1 then r.m[2] else substr(r.m[2], g.i, 2) end)
                      else '!' || quote_literal(r.m[2]) end as term
            from regexp_matches(norm, public.search_cjk_runs_pattern(), 'g') with ordinality as r(m, run_no)
           cross join lateral generate_series(1, case when r.m[1] is null then greatest(char_length(r.m[2]) - 1, 1)
                                                      when char_length(r.m[2]) <= 2 then 1
                                                      else 0 end) as g(i)) t;
  if cjk is null then
    return english;
  end if;
  -- Only negations (no wanted term anywhere) find nothing, as an empty query does.
  if numnode(english) = 0 and cjk !~ '(^|& )''' then
    return ''::tsquery;
  end if;
  return case when numnode(english) = 0 then cjk::tsquery else english && cjk::tsquery end;
end;
$$;

-- 20261205170070_full_width_letters_and_digits_are_searched_as_ascii.sql's: a message must hold
-- each wanted run and none after a minus.
create or replace function public.search_recheck(query text, content text) returns boolean
language sql
immutable parallel safe
as $$
  select not exists (
    select 1
      from pg_catalog.regexp_matches(pg_catalog.normalize(query, 'NFKC'), public.search_cjk_runs_pattern(), 'g') as r(m)
     where (r.m[1] is null) = (pg_catalog.strpos(pg_catalog.normalize(content, 'NFKC'), r.m[2]) = 0)
  )
$$;
