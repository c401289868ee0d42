-- The facade's keyed reads, each ONE statement on the API's Postgres door (api/database.py
-- `CallerDatabase.read_as`): a function of the schema `facade`, called by the API's login role
-- with the caller's verified claims, switches to `authenticated` with those claims before it
-- reads anything, then reads under RLS exactly as the same query did after the API's own
-- `BEGIN; set_config(...)` round trip. Three round trips (setup, read, COMMIT) become one: the
-- statement is its own transaction, and the settings are transaction-local, so they end with it
-- (the pool, or Supabase's pooler, hands the connection to anyone next).
--
-- Why it is safe:
-- - every function is SECURITY INVOKER: it runs as the login role (`authenticator`, which reads
--   no table) until `facade.become`, and then as `authenticated`, whose rows RLS decides; the
--   statements after the switch are planned as `authenticated` (plpgsql plans each statement when
--   it first runs, and a cached plan is re-made if the role it was made for changes);
-- - only the login role may call them: EXECUTE is revoked from PUBLIC and from the roles a REST,
--   Realtime or Storage caller acts as (they could otherwise pass someone else's claims), and the
--   schema is not one the REST layer exposes (supabase/config.toml `api.schemas`);
-- - `plan_cache_mode = force_generic_plan` is what the API set for these keyed reads before (see
--   api/database.py `setup_sql`): one plan per statement serves every caller, `auth.uid()` is
--   read when the plan runs.
-- The queries are the ones the routes sent before, unchanged; tests/api/test_database_door.py
-- alternates two users on one connection through each of them.

create schema if not exists facade;
revoke all on schema facade from public;
grant usage on schema facade to authenticator;

-- The caller's claims and role for the rest of this transaction (Supabase's REST does the same).
create function facade.become(claims text) returns void
language plpgsql volatile security invoker
as $$
begin
  perform pg_catalog.set_config('request.jwt.claims', claims, true),
          pg_catalog.set_config('role', 'authenticated', true),
          pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true);
end
$$;

-- A page of history, newest first (api/history.py): of one session (`in_session`, `owner` its id)
-- or of every session of the caller (`owner` their id); `page_rows` rows after `skip`, or after
-- the keyset (`after_at`, `after_id`) when given. `total` is the session's message_count (null:
-- no session the caller can see), or for a branched session the length of its conversation path,
-- which the page then walks.
create function facade.history(
  claims text, in_session boolean, owner uuid, page_rows integer, skip integer, after_at timestamptz, after_id uuid
) returns table (total integer, page text)
language plpgsql volatile security invoker
as $$
declare
  -- No cursor reads as a cursor past everything, so one plan per scope bounds the index scan.
  upto timestamptz := coalesce(after_at, 'infinity');
  below uuid := coalesce(after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
  counted integer;
begin
  perform facade.become(claims);
  if not in_session then
    return query
    with p as (
      select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at
        from public.chat_messages m
       where m.user_id = owner and m.created_at <= upto and (m.created_at < upto or (m.created_at = upto and m.id < below))
       order by m.created_at desc, m.id desc
       limit page_rows offset skip
    )
    select (select coalesce(sum(s.message_count), 0)::integer from public.chat_sessions s where s.user_id = owner),
           (select coalesce(json_agg(p order by p.created_at desc, p.id desc), '[]') from p)::text;
    return;
  end if;
  select case when s.branched then -1 else s.message_count end into counted
    from public.chat_sessions s where s.id = owner;
  if counted is null then
    return query select null::integer, null::text;
  elsif counted >= 0 then
    return query
    with p as (
      select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at
        from public.chat_messages m
       where m.session_id = owner and m.created_at <= upto and (m.created_at < upto or (m.created_at = upto and m.id < below))
       order by m.created_at desc, m.id desc
       limit page_rows offset skip
    )
    select counted, (select coalesce(json_agg(p order by p.created_at desc, p.id desc), '[]') from p)::text;
  else
    return query
    with path as (
      select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at
        from public.chat_path(owner) m
    ),
    p as (
      select * from path
       where path.created_at <= upto and (path.created_at < upto or (path.created_at = upto and path.id < below))
       order by path.created_at desc, path.id desc
       limit page_rows offset skip
    )
    select (select count(*) from path)::integer,
           (select coalesce(json_agg(p order by p.created_at desc, p.id desc), '[]') from p)::text;
  end if;
end
$$;

-- The sessions list page (api/routes/sessions.py), current or archived, most recent first, as JSON.
create function facade.sessions(claims text, archived boolean, page_rows integer, skip integer) returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  if archived then
    select coalesce(json_agg(r order by r.last_message_at desc nulls last, r.created_at desc, r.id), '[]')::text
      into found
      from (select s.id, s.title, ro.slug as role_id, s.is_active, s.message_count, s.last_message_at,
                   s.created_at, s.updated_at
              from public.chat_sessions s left join public.ai_roles ro on ro.id = s.role_id
             where s.archived_at is not null
             order by s.last_message_at desc nulls last, s.created_at desc, s.id
             limit page_rows offset skip) r;
  else
    select coalesce(json_agg(r order by r.last_message_at desc nulls last, r.created_at desc, r.id), '[]')::text
      into found
      from (select s.id, s.title, ro.slug as role_id, s.is_active, s.message_count, s.last_message_at,
                   s.created_at, s.updated_at
              from public.chat_sessions s left join public.ai_roles ro on ro.id = s.role_id
             where s.archived_at is null
             order by s.last_message_at desc nulls last, s.created_at desc, s.id
             limit page_rows offset skip) r;
  end if;
  return found;
end
$$;

-- One session (api/routes/sessions.py) as a JSON array of zero or one.
create function facade.session(claims text, wanted uuid) returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  select coalesce(json_agg(r), '[]')::text into found
    from (select s.id, s.title, ro.slug as role_id, s.is_active, s.message_count, s.last_message_at,
                 s.created_at, s.updated_at
            from public.chat_sessions s left join public.ai_roles ro on ro.id = s.role_id
           where s.id = wanted) r;
  return found;
end
$$;

-- The caller's profile (api/routes/profile.py) as a JSON array of zero or one.
create function facade.profile(claims text, wanted uuid) returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  select coalesce(json_agg(r), '[]')::text into found
    from (select p.id, p.username, p.email, p.avatar_url, p.is_active, p.last_login_at, p.created_at, p.updated_at
            from public.profiles p where p.id = wanted) r;
  return found;
end
$$;

-- The active roles (api/routes/roles.py), or the roles with one id or slug, as JSON.
create function facade.roles(claims text, by_id uuid, by_slug text) returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  if by_id is not null then
    select coalesce(json_agg(r), '[]')::text into found
      from (select ro.slug as id, ro.name, ro.description, ro.avatar_url, ro.system_prompt, ro.id::text as uuid,
                   ro.created_by is not null as is_custom, ro.sort_order, ro.created_at
              from public.ai_roles ro where ro.id = by_id) r;
  elsif by_slug is not null then
    select coalesce(json_agg(r), '[]')::text into found
      from (select ro.slug as id, ro.name, ro.description, ro.avatar_url, ro.system_prompt, ro.id::text as uuid,
                   ro.created_by is not null as is_custom, ro.sort_order, ro.created_at
              from public.ai_roles ro where ro.slug = by_slug) r;
  else
    select coalesce(json_agg(r order by r.sort_order, r.created_at, r.uuid), '[]')::text into found
      from (select ro.slug as id, ro.name, ro.description, ro.avatar_url, ro.system_prompt, ro.id::text as uuid,
                   ro.created_by is not null as is_custom, ro.sort_order, ro.created_at
              from public.ai_roles ro where ro.is_active) r;
  end if;
  return found;
end
$$;

revoke all on all functions in schema facade from public, anon, authenticated, service_role;
grant execute on all functions in schema facade to authenticator;
