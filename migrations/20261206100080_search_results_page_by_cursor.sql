-- Search results page by a keyset cursor, not by an offset. A "more results" page skipped the
-- results before it by counting them again, so a message written or deleted between two pages
-- moved every later result: a result deleted (or a turn) from a page already shown made the next
-- page start one late, and its first result was never shown; a new match ranked above the page's
-- end showed its last result twice. Now each row carries `cursor`, where it stands in the order,
-- and search_messages(…, after => that cursor) starts right after it, wherever rows came or went:
--
-- * in the ranked part (rank, then newest, then id), the cursor holds the row's rank, time and id,
--   and the window's edge: the oldest of the newest 500 matches when the first page was read (null
--   while there were fewer). The ranked part stays the matches from that edge on, so a new match
--   does not push one of them out of it, nor a deletion pull an older one in;
-- * in the older matches (newest first), the cursor holds the row's time and id, and the edge.
--
-- A result written after the cursor's position shows on a later page (one ranked above it, which a
-- reader has scrolled past, does not). The order, the first page and its cost are unchanged; skip
-- still works (counted from the cursor) for callers that page by offset. A cursor this search did
-- not give is refused 422 InvalidCursor, as the API's history refuses one. The cursor is base64url
-- of a JSON array; times are microseconds since the epoch and the rank a float8 text, both read
-- back exactly (whatever the session's time zone or extra_float_digits).

create or replace function public.search_cursor(
  phase text, rank real, at timestamptz, id uuid, edge_at timestamptz, edge_id uuid
) returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select pg_catalog.translate(pg_catalog.encode(pg_catalog.convert_to(pg_catalog.jsonb_build_array(
           phase, rank::float8::text,
           (extract(epoch from at) * 1000000)::bigint::text, id::text,
           (extract(epoch from edge_at) * 1000000)::bigint::text, edge_id::text)::text, 'UTF8'), 'base64'),
         E'+/=\n', '-_')
$$;

drop function public.search_messages(text, uuid, integer, integer);
drop function public.search_message_hits(text, uuid, integer, integer);

-- 20261205173000_a_search_reads_its_owner_s_matches_only.sql's, reading from a cursor and giving
-- each row's.
create function public.search_message_hits(
  query text, session uuid, max_results integer, skip integer, after text
) returns table (id uuid, rank real, cursor text)
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
    for r in
      select x.id, x.rank, x.created_at, x.n, x.edge_at, x.edge_id
        from (select c.id, ts_rank(c.search_vector, tsq) as rank, c.created_at, c.content,
                     count(*) over w as n, last_value(c.created_at) over w as edge_at,
                     last_value(c.id) over w as edge_id
                from (select m.id, m.content, m.created_at, m.search_vector
                        from public.chat_messages m
                       where m.user_id = me
                         and m.search_vector @@ tsq
                         and (session is null or m.session_id = session)
                       order by m.created_at desc, m.id desc
                       limit 500) c
              window w as (order by c.created_at desc, c.id desc
                           rows between unbounded preceding and unbounded following)) x
       where public.search_recheck(query, x.content)
       order by x.rank desc, x.created_at desc, x.id
       limit page offset skipped
    loop
      window_full := r.n = 500;
      edge_at := case when window_full then r.edge_at end;
      edge_id := case when window_full then r.edge_id end;
      id := r.id;
      rank := r.rank;
      cursor := public.search_cursor('r', r.rank, r.created_at, r.id, edge_at, edge_id);
      returned := returned + 1;
      return next;
    end loop;
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
        from (select m.id, m.content, m.created_at
                from public.chat_messages m
               where m.user_id = me
                 and m.search_vector @@ tsq
                 and (session is null or m.session_id = session)
               order by m.created_at desc, m.id desc
               limit 500) c;
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

-- 20261205173000's, with `after` and each row's cursor.
create function public.search_messages(
  query text,
  session uuid default null,
  max_results integer default 20,
  skip integer default 0,
  after text default null
) returns table (
  id uuid,
  session_id uuid,
  message_type public.message_type,
  content text,
  role_id varchar,
  created_at timestamptz,
  rank real,
  cursor text
)
language sql stable
security invoker
set search_path = ''
as $$
  select m.id, m.session_id, m.message_type, m.content, m.role_id, m.created_at, h.rank, h.cursor
    from public.search_message_hits(query, session, max_results, skip, after) with ordinality h
   cross join lateral (
     select r.id, r.session_id, r.message_type, r.content, r.role_id, r.created_at
       from public.chat_messages r
      where r.id = h.id
      limit 1
   ) m
   order by h.ordinality
$$;

revoke execute on function public.search_messages(text, uuid, integer, integer, text) from anon, public;
grant execute on function public.search_messages(text, uuid, integer, integer, text) to authenticated, service_role;

-- 20261202060000_facade_search_in_one_statement.sql's, from a cursor, with each hit's.
drop function facade.search(text, text, uuid, integer, integer);
create function facade.search(claims text, words text, in_session uuid, page_rows integer, skip integer, after text)
returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  perform pg_catalog.set_config('plan_cache_mode', 'auto', true);
  if in_session is not null and not exists (select 1 from public.chat_sessions s where s.id = in_session) then
    return null;
  end if;
  select coalesce(json_agg(r order by r.ordinality), '[]')::text into found
    from (select h.id, h.session_id, h.message_type, h.content, h.role_id, h.created_at,
                 coalesce(h.rank, 0) as rank, h.cursor, h.ordinality
            from public.search_messages(words, in_session, page_rows, skip, after) with ordinality h) r;
  return found;
end
$$;

revoke all on function facade.search(text, text, uuid, integer, integer, text) from public, anon, authenticated, service_role;
grant execute on function facade.search(text, text, uuid, integer, integer, text) to authenticator;
