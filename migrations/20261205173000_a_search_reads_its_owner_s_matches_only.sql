-- A search's cost follows what its user has, not the whole table. Measured on 1,000,000 messages
-- over 1,000 users (bench/search_bench.py's many-user set), two things read other users' rows:
--
-- 1. search_message_hits found a term's matches in the search_vector index alone and the owner
--    (chat_messages.user_id, which chat_messages_owner keeps as the session's user) was a second
--    index ANDed in, or a filter: once PL/pgSQL's plan cache settled on its generic plan (after five
--    calls on a connection, as a pooled door's are), a user with 20 messages searching a word in
--    200,000 of everyone's read all 200,000 index entries, twice. The index is now one GIN over
--    (user_id, search_vector) (btree_gin, offered by hosted Supabase), whose scan walks the owner's
--    entries and skips through the term's, and the function plans each call for its user and
--    query (plan_cache_mode force_custom_plan; the owner read once into a variable, so the planner
--    sees it), choosing between that index and the owner's newest-first index as the term is rare
--    or common for that user.
-- 2. search_messages joined the page of hits back to chat_messages (to read each row through RLS)
--    with a hash join over the user's messages as the owner policy sees them: a user with 100,000
--    messages read all 100,000 for a page of 20 (0.2 to 0.7 s). Each hit is now looked up by its id.
--
-- The rows, their order and RLS are unchanged: search_message_hits still keeps to auth.uid()'s
-- rows, and search_messages still reads each one as the caller. The old index is dropped: the new
-- one answers a search_vector condition alone too. Building it locks the table against writes for
-- the build (about 20 s for 1,000,000 messages on a loaded 2-core machine).

create extension if not exists btree_gin with schema extensions;

create index chat_messages_owner_search_idx on public.chat_messages using gin (user_id, search_vector);
drop index public.chat_messages_search_idx;

-- 20261205170060_a_long_search_is_refused_not_run_for_minutes.sql's, with the owner in a variable
-- and each call planned for its own values.
create or replace function public.search_message_hits(
  query text, session uuid, max_results integer, skip integer
) returns table (id uuid, rank real)
language plpgsql stable
security definer
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
#variable_conflict use_column
declare
  tsq tsquery;
  me uuid := auth.uid();
  page integer := least(greatest(max_results, 1), 100);
  skipped integer := greatest(skip, 0);
  returned integer;
  window_full boolean;
  ranked integer;
  edge_at timestamptz;
  edge_id uuid;
begin
  if char_length(query) > 1000 then
    perform public.raise_refusal(400, 'SearchTooLong', 'A search is at most 1000 characters.',
                                 jsonb_build_object('limit', 1000, 'length', char_length(query)));
  end if;
  tsq := public.search_query(query);
  if me is null or numnode(tsq) = 0 or not public.mfa_satisfied() then
    return;
  end if;
  return query
    select c.id, ts_rank(c.search_vector, tsq) as rank
      from (select m.id, m.content, m.created_at, m.search_vector
              from public.chat_messages m
             where m.user_id = me
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
           where m.user_id = me
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
     where m.user_id = me
       and m.search_vector @@ tsq
       and (session is null or m.session_id = session)
       and (m.created_at, m.id) < (edge_at, edge_id)
       and public.search_recheck(query, m.content)
     order by m.created_at desc, m.id desc
     limit page - returned offset greatest(skipped - ranked, 0);
end;
$$;

-- 20261204230000_search_reaches_every_match.sql's, each hit read by its id (a lateral lookup with a
-- limit is not flattened into a join, so it stays one primary-key probe a hit), still through RLS.
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
   cross join lateral (
     select r.id, r.session_id, r.message_type, r.content, r.role_id, r.created_at
       from public.chat_messages r
      where r.id = h.id
      limit 1
   ) m
   order by h.ordinality
$$;
