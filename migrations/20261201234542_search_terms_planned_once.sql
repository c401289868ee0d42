-- An answer's (and a question's) search vector is computed when its row is written, and
-- search_cjk_terms was a SQL function Postgres could not inline (an aggregate over a FROM): it was
-- planned again in every statement that wrote a row, ~0.1 ms of Postgres CPU per question and per
-- final answer. As PL/pgSQL its plan is kept for the session; text without CJK characters skips
-- the n-gram query altogether. Same results for every input (the stored vectors stay valid).

create or replace function public.search_cjk_terms(txt text) returns text[]
language plpgsql
immutable parallel safe
set search_path = ''
as $$
begin
  if txt is null or txt !~ public.search_cjk_pattern() then
    return '{}';
  end if;
  return (
    select coalesce(array_agg(distinct term), '{}')
      from (select substr(run, i, size) as term
              from (select m[1] as run from regexp_matches(txt, public.search_cjk_pattern(), 'g') as m) runs,
                   lateral (values (1), (2)) as sizes(size),
                   lateral generate_series(1, greatest(char_length(run) - size + 1, 0)) as i) terms);
end;
$$;
