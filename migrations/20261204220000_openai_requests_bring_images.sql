-- An OpenAI-compatible request's question may carry images (`image_url` parts as data: URIs): the
-- API stores them in the user's own folder of the `attachments` bucket, as the user, and names them
-- in the question's `attachments`, so every check a web app's question meets holds for them too
-- (the objects are the owner's and stored, the image limits, the plan's vision flag at admission).
-- `api_open_turn` takes the attachments; otherwise as in 20261204200000_...parameters.sql.

drop function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb);
create function public.api_open_turn(
  question_id uuid, question text, model_id text, role_ref text, role_by_id boolean, named_session uuid,
  key_id uuid, key_name text, day date, context jsonb default null, parameters jsonb default '{}',
  attachments jsonb default '[]'
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
  if context is null then
    insert into public.chat_messages (id, session_id, message_type, content, role_id, model, attachments)
    values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end,
            coalesce(attachments, '[]'));
  else
    insert into public.chat_messages (id, session_id, message_type, content, role_id, model, parent_id, attachments)
    values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end, null,
            coalesce(attachments, '[]'));
  end if;
  if context is not null or coalesce(parameters, '{}') <> '{}' then
    insert into public.question_contexts (message_id, messages, parameters)
    values (question_id, context, coalesce(parameters, '{}'));
  end if;
  return sid;
end;
$$;

revoke execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb, jsonb)
  from public, anon;
grant execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb, jsonb)
  to authenticated;
