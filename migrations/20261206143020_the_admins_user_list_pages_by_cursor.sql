-- The admin's user list pages by a keyset cursor, as the chat list does (20261206143000). The web
-- app's admin page and `GET /api/admin/users?offset=` read it by offset, newest first: a user who
-- signed up while the admin paged moved everyone down, so the next page showed the previous page's
-- last user again, and an account deleted meanwhile made the next page start one user late, its
-- first user never listed (the web's 20-row overlap caught a few deletions, not more).
--
-- `users_page(q, max_rows, after)` reads profiles newest first (created_at, then id) whose username
-- or email contains `q` (case-insensitive, `%`, `_` and `\` read as themselves; all when empty),
-- from right after `after`; `user_cursor` of a profile (a computed field for PostgREST:
-- `select=*,page_cursor:user_cursor`; its own name, as 20261206143010's request_cursor) is where
-- it stands in that order. Security invoker: RLS decides, as for the table ("profiles: admins
-- read"), so a user who is no admin reads themselves at most, whatever the cursor. A cursor no
-- list gave, or another list's, is 422 InvalidCursor.

-- A profile's place in the newest-first list: base64url of ["u", created_at, id].
create function public.user_cursor(public.profiles) returns text
language sql stable parallel safe
set search_path = ''
as $$
  select public.page_cursor_of(pg_catalog.jsonb_build_array('u', $1.created_at, $1.id))
$$;

create function public.users_page(q text default null, max_rows integer default 50, after text default null)
returns setof public.profiles
language plpgsql stable
security invoker
set search_path = ''
as $$
declare
  keys jsonb;
  at_time timestamptz;
  at_id uuid;
  pattern text := nullif(pg_catalog.btrim(coalesce(q, '')), '');
begin
  if after is not null then
    keys := public.page_cursor_keys(after, 'u', 2);
    begin
      at_time := (keys->>0)::timestamptz;
      at_id := (keys->>1)::uuid;
    exception when others then
      at_id := null;
    end;
    if at_time is null or at_id is null then
      perform public.page_cursor_keys('', 'u', 2);  -- refused as not one this list gave
    end if;
  end if;
  if pattern is not null then
    pattern := '%' || pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                 pattern, '\', '\\'), '%', '\%'), '_', '\_') || '%';
  end if;
  return query
    select p.*
      from public.profiles p
     where (pattern is null or p.username ilike pattern or p.email ilike pattern)
       and (after is null or (p.created_at, p.id) < (at_time, at_id))
     order by p.created_at desc, p.id desc
     limit greatest(coalesce(max_rows, 50), 1);
end;
$$;

revoke execute on function public.user_cursor(public.profiles) from public, anon;
grant execute on function public.user_cursor(public.profiles) to authenticated, service_role;
revoke execute on function public.users_page(text, integer, text) from public, anon;
grant execute on function public.users_page(text, integer, text) to authenticated, service_role;
