-- An API key's chat of the day lists its requests (each a root question, web/src/components/
-- ApiRequests.vue) by a keyset cursor, as the chat list does (20261206143000). It read them by
-- offset, newest first: a request made through the key while the reader paged (the day's chat is
-- written all day long) moved every older one down, so the next page showed the previous page's
-- last requests again, and a request deleted meanwhile made the next page start one late.
--
-- `api_requests_page(session, max_rows, after)` reads the chat's root questions newest first
-- (created_at, then id) from right after `after`, on chat_messages_roots_idx; `request_cursor` of a
-- message (a computed field for PostgREST: `select=*,page_cursor:request_cursor`) is where it
-- stands in that order. It is not another `page_cursor`: PostgREST passes a computed field the
-- row of its call's result as a record, which an overloaded name cannot take (not unique). Security invoker:
-- RLS decides, so another user's chat reads as no request and their cursor only says where to
-- start. A cursor no list gave, or another list's, is 422 InvalidCursor.

-- A message's place in a newest-first list: base64url of ["m", created_at, id].
create function public.request_cursor(public.chat_messages) returns text
language sql stable parallel safe
set search_path = ''
as $$
  select public.page_cursor_of(pg_catalog.jsonb_build_array('m', $1.created_at, $1.id))
$$;

create function public.api_requests_page(session uuid, max_rows integer default 20, after text default null)
returns setof public.chat_messages
language plpgsql stable
security invoker
set search_path = ''
as $$
declare
  keys jsonb;
  at_time timestamptz;
  at_id uuid;
begin
  if after is not null then
    keys := public.page_cursor_keys(after, 'm', 2);
    begin
      at_time := (keys->>0)::timestamptz;
      at_id := (keys->>1)::uuid;
    exception when others then
      at_id := null;
    end;
    if at_time is null or at_id is null then
      perform public.page_cursor_keys('', 'm', 2);  -- refused as not one this list gave
    end if;
  end if;
  return query
    select m.*
      from public.chat_messages m
     where m.session_id = session
       and m.parent_id is null
       and m.message_type = 'user'
       and (after is null or (m.created_at, m.id) < (at_time, at_id))
     order by m.created_at desc, m.id desc
     limit greatest(coalesce(max_rows, 20), 1);
end;
$$;

revoke execute on function public.request_cursor(public.chat_messages) from public, anon;
grant execute on function public.request_cursor(public.chat_messages) to authenticated, service_role;
revoke execute on function public.api_requests_page(uuid, integer, text) from public, anon;
grant execute on function public.api_requests_page(uuid, integer, text) to authenticated, service_role;
