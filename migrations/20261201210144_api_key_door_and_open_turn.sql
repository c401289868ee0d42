-- The API resolves an API key and counts its caller's send rate on its own Postgres door, as its
-- login role `authenticator` BEFORE it becomes anyone (the same role PostgREST logs in as, which
-- reads no table and bypasses no RLS): one round trip on a pooled connection instead of two REST
-- calls with the service key. Everything the request then reads or writes runs as the key's user
-- (`set role authenticated` + the claims), under RLS and the plan, as before.
--
-- PostgREST switches to anon/authenticated/service_role before any request's SQL runs, so no
-- REST caller can use these grants; they are the API process's alone.

grant execute on function public.api_key_identity(text) to authenticator;
grant execute on function public.api_rate_limit_hit(text, integer, integer) to authenticator;

-- A completion's question in one call, as the key's user (SECURITY INVOKER: RLS and the
-- admission trigger apply to every read and write, exactly as for the same statements sent one
-- by one), stored with the id the API chose (so the API can send the call, its role switch and
-- the commit as one simple-protocol string, one round trip, without reading a result): the role (`role_ref`, a slug or, with `role_by_id`, an id) or the model checked, the
-- session found — the named one, else the key's session of the day, opened on first use — and
-- the question inserted. Unknown model/role or session: SQLSTATE P0002 with the message
-- `model_not_found` / `session_not_found`, nothing written.
create or replace function public.api_open_turn(
  question_id uuid, question text, model_id text, role_ref text, role_by_id boolean, named_session uuid,
  key_id uuid, key_name text, day date
) returns uuid
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  stored_role text;
  sid uuid;
begin
  if role_ref is not null then
    if role_by_id then
      select r.slug into stored_role from public.ai_roles r where r.id = role_ref::uuid limit 1;
    else
      select r.slug into stored_role from public.ai_roles r where r.slug = role_ref limit 1;
    end if;
    if stored_role is null then
      raise exception using errcode = 'P0002', message = 'model_not_found';
    end if;
  elsif not exists (select 1 from public.models m where m.id = model_id) then
    raise exception using errcode = 'P0002', message = 'model_not_found';
  end if;
  if named_session is not null then
    select s.id into sid from public.chat_sessions s where s.id = named_session;
    if sid is null then
      raise exception using errcode = 'P0002', message = 'session_not_found';
    end if;
  else
    select s.id into sid from public.chat_sessions s where s.api_key_id = key_id and s.api_day = day;
    if sid is null then
      insert into public.chat_sessions (title, api_key_id, api_day)
      values (left('API · ' || key_name || ' · ' || day::text, 200), key_id, day)
      on conflict (api_key_id, api_day) do nothing
      returning id into sid;
      if sid is null then -- a concurrent request of the same key opened it first
        select s.id into sid from public.chat_sessions s where s.api_key_id = key_id and s.api_day = day;
      end if;
    end if;
  end if;
  insert into public.chat_messages (id, session_id, message_type, content, role_id, model)
  values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end);
  return sid;
end;
$$;

revoke execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date) from public, anon;
grant execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date) to authenticated;
