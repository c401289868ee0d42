-- The chat list pages by a keyset cursor, as search results do (20261206100080). The web app's
-- sidebar and /history, and `GET /api/sessions?page=`, read the list by offset: a chat deleted
-- elsewhere (another tab, another device) between two pages moved every later chat up by one, so
-- the next page started one chat late and its first chat was never shown; a chat made meanwhile
-- moved them down, so the previous page's last chat came again. The web app read 20 rows before
-- where its list ended to catch the first case (and dropped the repeats), which a second deletion
-- defeated.
--
-- Now `sessions_page(max_rows, after, archived)` reads the list in its order (pinned first, newest
-- pin on top, then by last activity, a chat without any after every active one, then newest made,
-- then id) from right after `after`, and `page_cursor(chat_sessions)` (a computed field for
-- PostgREST: `select=*,page_cursor`) is where a chat stands in that order. Both run as the caller
-- (security invoker): RLS decides which chats are read, and a cursor only says where to start in
-- them, so another user's cursor reads the caller's own chats from that position and shows
-- nothing of theirs. A cursor these lists did not give is refused 422 InvalidCursor, as search's
-- and history's are. A chat made, or whose activity moved it up, after the first page stands
-- above the cursor: the first page shows it when the list is read again (the web app puts a chat
-- it made or opens there itself), not a later page, as under offsets; one whose pin was taken off
-- moves down and may be read again (the web app keeps one copy).
--
-- The cursor is base64url of a JSON array: the list's letter ('s'), then the row's keys as JSON
-- writes them (a time with its offset, which reads back exactly in any time zone; '-infinity' for
-- no pin or no activity, which orders as the `nulls last` it stands for).

-- A page cursor: base64url (no padding) of a JSON array.
create function public.page_cursor_of(parts jsonb) returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select pg_catalog.translate(pg_catalog.encode(pg_catalog.convert_to(parts::text, 'UTF8'), 'base64'),
                              E'+/=\n', '-_')
$$;

-- The keys a cursor holds for list `kind` (its `n` elements after the letter), or 422 InvalidCursor
-- (a definer, as raise_refusal is not the caller's to run; it reads no table).
create function public.page_cursor_keys(cursor text, kind text, n integer) returns jsonb
language plpgsql immutable
security definer
set search_path = ''
as $$
declare
  parts jsonb;
begin
  begin
    parts := pg_catalog.convert_from(pg_catalog.decode(
               pg_catalog.rpad(pg_catalog.translate(cursor, '-_', '+/'), (pg_catalog.char_length(cursor) + 3) / 4 * 4, '='),
               'base64'), 'UTF8')::jsonb;
  exception when others then
    parts := null;
  end;
  if parts is null or pg_catalog.jsonb_typeof(parts) <> 'array' or pg_catalog.jsonb_array_length(parts) <> n + 1
     or parts->>0 is distinct from kind then
    perform public.raise_refusal(422, 'InvalidCursor', 'The cursor is not one this list gave.', '{}');
  end if;
  return parts - 0;
end;
$$;

-- A chat's place in the list's order.
create function public.page_cursor(public.chat_sessions) returns text
language sql stable parallel safe
set search_path = ''
as $$
  select public.page_cursor_of(pg_catalog.jsonb_build_array('s',
           coalesce($1.pinned_at, '-infinity'::timestamptz), coalesce($1.last_message_at, '-infinity'::timestamptz),
           $1.created_at, $1.id))
$$;

-- `max_rows` (at least 1; PostgREST's max_rows caps it over REST) of the caller's chats after `after` (from the top without one); `archived`:
-- only archived chats (true), only current ones (false), or both (null, the web app's list).
create function public.sessions_page(max_rows integer default 20, after text default null, archived boolean default null)
returns setof public.chat_sessions
language plpgsql stable
security invoker
set search_path = ''
as $$
declare
  keys jsonb;
  at_pin timestamptz;
  at_last timestamptz;
  at_made timestamptz;
  at_id uuid;
begin
  if after is not null then
    keys := public.page_cursor_keys(after, 's', 4);
    begin
      at_pin := (keys->>0)::timestamptz;
      at_last := (keys->>1)::timestamptz;
      at_made := (keys->>2)::timestamptz;
      at_id := (keys->>3)::uuid;
    exception when others then
      at_id := null;
    end;
    if at_pin is null or at_last is null or at_made is null or at_id is null then
      perform public.page_cursor_keys('', 's', 4);  -- refused as not one this list gave
    end if;
  end if;
  return query
    select s.*
      from public.chat_sessions s
     where (archived is null or (s.archived_at is not null) = archived)
       and (after is null
            or (coalesce(s.pinned_at, '-infinity'::timestamptz), coalesce(s.last_message_at, '-infinity'::timestamptz),
                s.created_at, s.id) < (at_pin, at_last, at_made, at_id))
     order by coalesce(s.pinned_at, '-infinity'::timestamptz) desc, coalesce(s.last_message_at, '-infinity'::timestamptz) desc,
              s.created_at desc, s.id desc
     limit greatest(coalesce(max_rows, 20), 1);
end;
$$;

revoke execute on function public.page_cursor_of(jsonb) from public, anon;
revoke execute on function public.page_cursor_keys(text, text, integer) from public, anon;
grant execute on function public.page_cursor_of(jsonb) to authenticated, service_role;
grant execute on function public.page_cursor_keys(text, text, integer) to authenticated, service_role;
revoke execute on function public.page_cursor(public.chat_sessions) from public, anon;
grant execute on function public.page_cursor(public.chat_sessions) to authenticated, service_role;
revoke execute on function public.sessions_page(integer, text, boolean) from public, anon;
grant execute on function public.sessions_page(integer, text, boolean) to authenticated, service_role;

-- `GET /api/sessions`: 20261205143000's list from a cursor, each chat with its own; `skip` (the
-- seed's `page`) counts from the cursor, or from the top without one.
create function facade.sessions(claims text, archived boolean, page_rows integer, skip integer, after text)
returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  select coalesce(json_agg(r order by r.n), '[]')::text into found
    from (select (x.s).id, (x.s).title, ro.slug as role_id, (x.s).is_active, (x.s).message_count,
                 (x.s).last_message_at, (x.s).created_at, (x.s).updated_at, (x.s).pinned_at,
                 public.page_cursor(x.s) as cursor, x.n
            from (select p as s, row_number() over () as n
                    from public.sessions_page(page_rows + skip, after, archived) p) x
            left join public.ai_roles ro on ro.id = (x.s).role_id
           where x.n > skip) r;
  return found;
end
$$;

-- 20261205143000's, which this one replaces (the API calls only this one).
drop function facade.sessions(text, boolean, integer, integer);

revoke all on function facade.sessions(text, boolean, integer, integer, text) from public, anon, authenticated, service_role;
grant execute on function facade.sessions(text, boolean, integer, integer, text) to authenticator;
