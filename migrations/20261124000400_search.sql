-- Message search for Chinese and English that runs on hosted Supabase too (no zhparser):
-- English words through the `english` text-search configuration, CJK text as overlapping
-- character bigrams plus single characters, all in one GIN-indexed tsvector. A 2-character
-- Chinese query is then one exact lexeme; longer queries AND their bigrams and are rechecked
-- against the text so bigrams from different places cannot produce a false match.

-- Han, kana and hangul ranges. The helpers below run once per stored row, so they carry no
-- `set search_path` (a SET clause costs a configuration save/restore per call, 4x the work
-- here); every name inside them is schema-qualified instead.
create or replace function public.search_cjk_pattern() returns text
language sql immutable parallel safe
as $$ select '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+' $$;

create or replace function public.search_cjk_terms(txt text) returns text[]
language sql immutable parallel safe
as $$
  select coalesce(array_agg(distinct term), '{}')
  from (
    select substr(run, i, size) as term
    from (select m[1] as run from regexp_matches(coalesce(txt, ''), public.search_cjk_pattern(), 'g') as m) runs,
         lateral (values (1), (2)) as sizes(size),
         lateral generate_series(1, greatest(char_length(run) - size + 1, 0)) as i
  ) terms
$$;

create or replace function public.search_document(txt text) returns tsvector
language sql immutable parallel safe
as $$
  select to_tsvector('pg_catalog.english'::regconfig,
                     regexp_replace(coalesce(txt, ''), public.search_cjk_pattern(), ' ', 'g'))
         || array_to_tsvector(public.search_cjk_terms(txt))
$$;

-- The query side: English words as websearch syntax, each CJK run as the AND of its bigrams
-- (a single character matches its unigram).
create or replace function public.search_query(q text) returns tsquery
language plpgsql immutable parallel safe
set search_path = ''
as $$
declare
  english tsquery := websearch_to_tsquery('pg_catalog.english'::regconfig,
                                         regexp_replace(coalesce(q, ''), public.search_cjk_pattern(), ' ', 'g'));
  run text;
  i int;
  result tsquery := english;
  part tsquery;
begin
  for run in select m[1] from regexp_matches(coalesce(q, ''), public.search_cjk_pattern(), 'g') as m loop
    if char_length(run) = 1 then
      part := quote_literal(run)::tsquery;
    else
      part := null;
      for i in 1 .. char_length(run) - 1 loop
        part := case when part is null then quote_literal(substr(run, i, 2))::tsquery
                     else part && quote_literal(substr(run, i, 2))::tsquery end;
      end loop;
    end if;
    result := case when numnode(result) = 0 then part else result && part end;
  end loop;
  return result;
end;
$$;

alter table public.chat_messages
  add column search_vector tsvector generated always as (public.search_document(content)) stored;
create index chat_messages_search_idx on public.chat_messages using gin (search_vector);

-- Under RLS PostgreSQL may not use an index for a non-leakproof operator such as `@@` before
-- the policy has filtered rows, so a plain security-invoker search would scan every message the
-- user owns. The hits are therefore found by a security-definer function that applies the same
-- ownership rule (`user_id = auth.uid()`) explicitly, which lets the GIN index drive the search;
-- the rows themselves are then read back through RLS by the invoker function below.
create or replace function public.search_message_hits(
  query text, session uuid, max_results integer, skip integer
) returns table (id uuid, rank real)
language sql stable
security definer
set search_path = ''
as $$
  with q as (select public.search_query(query) as tsq)
  select m.id, ts_rank(m.search_vector, q.tsq) as rank
    from public.chat_messages m, q
   where numnode(q.tsq) > 0
     and m.user_id = auth.uid()
     and m.search_vector @@ q.tsq
     and (session is null or m.session_id = session)
     and not exists (
       select 1 from regexp_matches(query, public.search_cjk_pattern(), 'g') as r(run)
        where strpos(m.content, r.run[1]) = 0
     )
   order by rank desc, m.created_at desc, m.id
   limit least(greatest(max_results, 1), 100) offset greatest(skip, 0)
$$;
revoke execute on function public.search_message_hits(text, uuid, integer, integer) from public, anon;
grant execute on function public.search_message_hits(text, uuid, integer, integer) to authenticated, service_role;

-- Search the caller's messages, best matches first; the rows come back through RLS.
create or replace function public.search_messages(
  query text,
  session uuid default null,
  max_results integer default 20,
  skip integer default 0
) returns table (
  id uuid,
  session_id uuid,
  message_type public.message_type,
  content text,
  role_id varchar,
  created_at timestamptz,
  rank real
)
language sql stable
security invoker
set search_path = ''
as $$
  select m.id, m.session_id, m.message_type, m.content, m.role_id, m.created_at, h.rank
    from public.search_message_hits(query, session, max_results, skip) h
    join public.chat_messages m on m.id = h.id
   order by h.rank desc, m.created_at desc, m.id
$$;

revoke execute on function public.search_messages(text, uuid, integer, integer) from anon, public;
grant execute on function public.search_messages(text, uuid, integer, integer) to authenticated, service_role;
