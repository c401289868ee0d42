-- A heavy user's search for a word common among other users but rare in their own messages reads
-- a bounded part of their messages, not all of them. The newest 500 matches (the ranked window)
-- were one `order by created_at desc limit 500` query, and the planner, which estimates a user's
-- matches from the word's frequency in the whole table (it cannot know the word is rare for them),
-- walked the user's messages newest first to find 500: on bench/search_bench.py's set, the user
-- with 100,000 messages searching 公园 (in 180,000 of the others' messages, none of theirs) read all
-- of theirs, twice a call (the page, then the window's size), 61.5 ms p50 (66 to 230 ms on a loaded
-- machine); the (user_id, search_vector) GIN index answers it in 0.2 ms.
--
-- Now the function chooses, knowing more than the planner: where the planner expects 500 matches
-- of the user's or more (its estimate, read with EXPLAIN: a word in many of everyone's messages),
-- the first page is read from a walk of the user's newest 5,000 messages (in the session, when one
-- is named). If they hold 500 matches, that walk is the window (a word common for the user too: as
-- before, one walk). If not, the page is read again, its window all of the user's matches from
-- the GIN index (read whole, then the newest 500 of them). Where the planner expects fewer, from
-- the index at once, as it chose. So a walk costs at most 5,000 rows, whatever the user has.
--
-- The function's statements never scan the whole table (enable_seqscan off for them): once the
-- planner expects a word common for the user, reading all of their matches could otherwise be
-- planned as a scan of every user's messages. The window, the order, the cursors and RLS are
-- unchanged; only how the window's rows are found.
--
-- Measured on that set (the heavy user's 公园 messages deleted, so the word is in none of theirs),
-- 30 calls a case on a new connection, the old and new function alternated twice on a 2-core
-- machine under a load average of 10: 公园 for the heavy user 231 and 308 ms p50 before, 25 and
-- 20 ms after; 天气 and kubernetes for the heavy and the light user within that machine's noise
-- (heavy 天气 22 and 30 ms before, 23 and 29 after). The set stores each user's messages together,
-- which flatters the GIN index (0.2 ms for 公园); where users' rows interleave, it reads the user's
-- and the word's entries whole, still far fewer than the walk's rows.

-- How many of a user's messages (in a session, when one is named) the planner expects to match a
-- search: its row estimate, from EXPLAIN (no rows read). Volatile only because a stable function may
-- not run EXPLAIN; it reads nothing and writes nothing. Called by search_message_hits as its owner,
-- granted to no one.
create function public.search_expected_matches(owner uuid, tsq tsquery, session uuid) returns float8
language plpgsql volatile
set search_path = ''
set plan_cache_mode = force_custom_plan
as $$
declare
  plan json;
begin
  execute 'explain (format json) select 1 from public.chat_messages m
            where m.user_id = $1 and m.search_vector @@ $2 and ($3::uuid is null or m.session_id = $3)'
     into plan using owner, tsq, session;
  return (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
end;
$$;

revoke execute on function public.search_expected_matches(uuid, tsquery, uuid) from public, anon, authenticated, service_role;

-- 20261206100080_search_results_page_by_cursor.sql's, the window found as above.
create or replace function public.search_message_hits(
  query text, session uuid, max_results integer, skip integer, after text
) returns table (id uuid, rank real, cursor text)
language plpgsql stable
security definer
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_seqscan = off
as $$
#variable_conflict use_column
declare
  tsq tsquery;
  me uuid := auth.uid();
  page integer := least(greatest(max_results, 1), 100);
  skipped integer := greatest(skip, 0);
  returned integer := 0;
  ranked integer;
  window_full boolean := false;
  phase text;
  at_rank real;
  at_time timestamptz;
  at_id uuid;
  edge_at timestamptz;
  edge_id uuid;
  parts jsonb;
  bad boolean := false;
  r record;
  by_index boolean;
  hit_ids uuid[];
  hit_ranks real[];
  hit_times timestamptz[];
begin
  if char_length(query) > 1000 then
    perform public.raise_refusal(400, 'SearchTooLong', 'A search is at most 1000 characters.',
                                 jsonb_build_object('limit', 1000, 'length', char_length(query)));
  end if;
  if after is not null then
    begin
      parts := convert_from(decode(rpad(translate(after, '-_', '+/'), (char_length(after) + 3) / 4 * 4, '='),
                                   'base64'), 'UTF8')::jsonb;
      phase := parts->>0;
      at_rank := (parts->>1)::float8::real;
      at_time := 'epoch'::timestamptz + (parts->>2)::bigint * interval '1 microsecond';
      at_id := (parts->>3)::uuid;
      edge_at := 'epoch'::timestamptz + (parts->>4)::bigint * interval '1 microsecond';
      edge_id := (parts->>5)::uuid;
    exception when others then
      bad := true;
    end;
    if bad or jsonb_typeof(parts) is distinct from 'array' or phase is null or phase not in ('r', 'o')
       or at_time is null or at_id is null or (phase = 'r' and at_rank is null)
       or (edge_at is null) <> (edge_id is null) or (phase = 'o' and edge_at is null) then
      perform public.raise_refusal(422, 'InvalidCursor', 'The cursor is not one this search gave.', '{}');
    end if;
    window_full := edge_at is not null;
  end if;
  tsq := public.search_query(query);
  if me is null or numnode(tsq) = 0 or not public.mfa_satisfied() then
    return;
  end if;
  if after is null then
    -- The first page: the newest 500 matches ranked, as before; the window's edge read alongside.
    -- Where the planner expects 500 matches of the user's or more, first from a walk of their
    -- newest 5,000 messages; if they do not hold 500 matches (or none for this page), the word is
    -- rare for the user and the page is read again, its window from the index (its rows are held
    -- until then). Where it expects fewer, from the index at once.
    by_index := public.search_expected_matches(me, tsq, session) < 500;
    loop
      returned := 0;
      hit_ids := '{}';
      hit_ranks := '{}';
      hit_times := '{}';
      for r in
        select x.id, x.rank, x.created_at, x.n, x.edge_at, x.edge_id
          from (select c.id, ts_rank(c.search_vector, tsq) as rank, c.created_at, c.content,
                       count(*) over w as n, last_value(c.created_at) over w as edge_at,
                       last_value(c.id) over w as edge_id
                  from (select * from (select w.id, w.content, w.created_at, w.search_vector
                                    from (select m.id, m.content, m.created_at, m.search_vector
                                            from public.chat_messages m
                                           where not by_index
                                             and m.user_id = me
                                             and (session is null or m.session_id = session)
                                           order by m.created_at desc, m.id desc
                                           limit 5000) w
                                   where w.search_vector @@ tsq
                                   order by w.created_at desc, w.id desc
                                   limit 500) walk
                        union all
                        select * from (select g.id, g.content, g.created_at, g.search_vector
                                         from (select m.id, m.content, m.created_at, m.search_vector
                                                 from public.chat_messages m
                                                where by_index
                                                  and m.user_id = me
                                                  and m.search_vector @@ tsq
                                                  and (session is null or m.session_id = session)
                                               offset 0) g
                                        order by g.created_at desc, g.id desc
                                        limit 500) indexed) c
                window w as (order by c.created_at desc, c.id desc
                             rows between unbounded preceding and unbounded following)) x
         where public.search_recheck(query, x.content)
         order by x.rank desc, x.created_at desc, x.id
         limit page offset skipped
      loop
        window_full := r.n = 500;
        edge_at := case when window_full then r.edge_at end;
        edge_id := case when window_full then r.edge_id end;
        hit_ids := hit_ids || r.id;
        hit_ranks := hit_ranks || r.rank;
        hit_times := hit_times || r.created_at;
        returned := returned + 1;
      end loop;
      exit when by_index or (returned > 0 and window_full);
      by_index := true;
    end loop;
    return query
      select h.i, h.r, public.search_cursor('r', h.r, h.t, h.i, edge_at, edge_id)
        from unnest(hit_ids, hit_ranks, hit_times) with ordinality as h(i, r, t, o)
       order by h.o;
    if returned = page then
      return;
    end if;
    if returned > 0 then
      ranked := skipped + returned;
    else
      -- The page reaches past the ranked matches: how many there are, and the oldest of the 500.
      select count(*) = 500, count(*) filter (where public.search_recheck(query, c.content)),
             (array_agg(c.created_at order by c.created_at, c.id))[1], (array_agg(c.id order by c.created_at, c.id))[1]
        into window_full, ranked, edge_at, edge_id
        from (select * from (select w.id, w.content, w.created_at
                                from (select m.id, m.content, m.created_at, m.search_vector
                                        from public.chat_messages m
                                       where not by_index
                                         and m.user_id = me
                                         and (session is null or m.session_id = session)
                                       order by m.created_at desc, m.id desc
                                       limit 5000) w
                               where w.search_vector @@ tsq
                               order by w.created_at desc, w.id desc
                               limit 500) walk
              union all
              select * from (select g.id, g.content, g.created_at
                               from (select m.id, m.content, m.created_at
                                       from public.chat_messages m
                                      where by_index
                                        and m.user_id = me
                                        and m.search_vector @@ tsq
                                        and (session is null or m.session_id = session)
                                     offset 0) g
                              order by g.created_at desc, g.id desc
                              limit 500) indexed) c;
    end if;
  elsif phase = 'r' then
    -- A later ranked page: the matches from the window's edge on (all of them when it had none),
    -- after the cursor in (rank desc, created_at desc, id) order.
    for r in
      select x.id, x.rank, x.created_at
        from (select m.id, ts_rank(m.search_vector, tsq) as rank, m.created_at, m.content
                from public.chat_messages m
               where m.user_id = me
                 and m.search_vector @@ tsq
                 and (session is null or m.session_id = session)
                 and (edge_at is null or (m.created_at, m.id) >= (edge_at, edge_id))) x
       where (x.rank < at_rank
              or (x.rank = at_rank and (x.created_at < at_time or (x.created_at = at_time and x.id > at_id))))
         and public.search_recheck(query, x.content)
       order by x.rank desc, x.created_at desc, x.id
       limit page offset skipped
    loop
      id := r.id;
      rank := r.rank;
      cursor := public.search_cursor('r', r.rank, r.created_at, r.id, edge_at, edge_id);
      returned := returned + 1;
      return next;
    end loop;
    if returned = page or not window_full then
      return;
    end if;
    if returned > 0 or skipped = 0 then
      ranked := skipped + returned;
    else
      select count(*) into ranked
        from (select ts_rank(m.search_vector, tsq) as rank, m.created_at, m.id, m.content
                from public.chat_messages m
               where m.user_id = me
                 and m.search_vector @@ tsq
                 and (session is null or m.session_id = session)
                 and (m.created_at, m.id) >= (edge_at, edge_id)) x
       where (x.rank < at_rank
              or (x.rank = at_rank and (x.created_at < at_time or (x.created_at = at_time and x.id > at_id))))
         and public.search_recheck(query, x.content);
    end if;
  else
    ranked := 0;
  end if;
  if not window_full then
    return;  -- every match was ranked
  end if;
  -- Every older match, newest first (after the cursor's when it stands among them).
  return query
    select m.id, null::real, public.search_cursor('o', null, m.created_at, m.id, edge_at, edge_id)
      from public.chat_messages m
     where m.user_id = me
       and m.search_vector @@ tsq
       and (session is null or m.session_id = session)
       and (m.created_at, m.id) < (edge_at, edge_id)
       and (phase is distinct from 'o' or (m.created_at, m.id) < (at_time, at_id))
       and public.search_recheck(query, m.content)
     order by m.created_at desc, m.id desc
     limit page - returned offset greatest(skipped - ranked, 0);
end;
$$;

revoke execute on function public.search_message_hits(text, uuid, integer, integer, text) from public, anon;
grant execute on function public.search_message_hits(text, uuid, integer, integer, text) to authenticated, service_role;
