-- Search reaches every match. Since 20261124001000_search_recent_candidates.sql only the newest 500
-- index matches were ranked and nothing lay beyond them: "more results" ended there, so an old
-- conversation holding a common word could not be found by that word at all.
--
-- Now the order is total and stable: the newest 500 matches first, ranked by relevance (as before,
-- and at the same cost for those pages), then every older match, newest first (no rank: null). The
-- older matches are read only for a page that reaches past the ranked ones. search_messages keeps
-- the hits' order instead of sorting by rank again (which would put the unranked first).

-- The CJK recheck (bigrams from different places must not make a match), shared by both parts.
-- No `set search_path`, so it is inlined; every name in it is schema-qualified.
create or replace function public.search_recheck(query text, content text) returns boolean
language sql
immutable parallel safe
as $$
  select not exists (
    select 1 from pg_catalog.regexp_matches(query, public.search_cjk_pattern(), 'g') as r(run)
     where pg_catalog.strpos(content, r.run[1]) = 0
  )
$$;

create or replace function public.search_message_hits(
  query text, session uuid, max_results integer, skip integer
) returns table (id uuid, rank real)
language plpgsql stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  tsq tsquery := public.search_query(query);
  page integer := least(greatest(max_results, 1), 100);
  skipped integer := greatest(skip, 0);
  returned integer;
  window_full boolean;
  ranked integer;
  edge_at timestamptz;
  edge_id uuid;
begin
  if numnode(tsq) = 0 then
    return;
  end if;
  return query
    select c.id, ts_rank(c.search_vector, tsq) as rank
      from (select m.id, m.content, m.created_at, m.search_vector
              from public.chat_messages m
             where m.user_id = auth.uid()
               and m.search_vector @@ tsq
               and (session is null or m.session_id = session)
             order by m.created_at desc, m.id desc
             limit 500) c
     where public.search_recheck(query, c.content)
     order by 2 desc, c.created_at desc, c.id
     limit page offset skipped;
  get diagnostics returned = row_count;
  if returned = page then
    return;
  end if;
  -- The page reaches past the ranked matches: how many there are, and the oldest of the 500.
  select count(*) = 500, count(*) filter (where public.search_recheck(query, c.content)),
         (array_agg(c.created_at order by c.created_at, c.id))[1], (array_agg(c.id order by c.created_at, c.id))[1]
    into window_full, ranked, edge_at, edge_id
    from (select m.id, m.content, m.created_at
            from public.chat_messages m
           where m.user_id = auth.uid()
             and m.search_vector @@ tsq
             and (session is null or m.session_id = session)
           order by m.created_at desc, m.id desc
           limit 500) c;
  if not window_full then
    return;  -- every match was ranked
  end if;
  return query
    select m.id, null::real
      from public.chat_messages m
     where m.user_id = auth.uid()
       and m.search_vector @@ tsq
       and (session is null or m.session_id = session)
       and (m.created_at, m.id) < (edge_at, edge_id)
       and public.search_recheck(query, m.content)
     order by m.created_at desc, m.id desc
     limit page - returned offset greatest(skipped - ranked, 0);
end;
$$;

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
    from public.search_message_hits(query, session, max_results, skip) with ordinality h
    join public.chat_messages m on m.id = h.id
   order by h.ordinality
$$;
