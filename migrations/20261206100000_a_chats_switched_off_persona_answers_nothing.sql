-- A question naming no role, in a chat bound to a persona switched off since, is refused as the
-- web app refuses it. The worker answers such a question with its chat's role while that role is
-- active, else as the assistant (worker_claim_context); 20261205173010 checked only a question that
-- names its role, so over REST (or the seed API, or /v1 naming the session) a question sent with no
-- role into a chat whose persona had been switched off was stored, charged and answered by the
-- assistant without a word, while the web app says the chat's persona is switched off and sends
-- nothing until another is picked. A new answer asked for such a question (request_answer) was
-- written by the assistant too.
--
-- Now a question (or an answer a user asks for) naming no role is checked against its chat's role:
-- while that role is switched off it is refused 404 RoleNotFound (details: the role's slug), before
-- admission, so nothing is stored or charged. A /v1 request that brings its own messages is answered
-- from them with no persona at all (the chat's role plays no part: worker_claim_context reads the
-- role only when the question has no context), so it is not refused: `api_open_turn` says so for
-- the question it inserts (`chatgalaxy.own_context`, transaction-local, the question's id), and an
-- answer asked for such a question is known by its stored context. A chat whose role was deleted
-- has none (on delete set null) and is answered by the assistant, as before. The copies
-- `chat_branch` makes stay unchecked (`chatgalaxy.copying`, 20261205173040).

create or replace function public.chat_messages_check_role() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  asked text := new.role_id;
begin
  if auth.role() is distinct from 'authenticated'
     or new.message_type not in ('user', 'assistant')
     or coalesce(current_setting('chatgalaxy.copying', true), '') = new.session_id::text then
    return new;
  end if;
  if asked is null then
    -- the chat's role answers, unless the question brings its own messages (a /v1 request's)
    if coalesce(current_setting('chatgalaxy.own_context', true), '') = new.id::text
       or (new.message_type = 'assistant'
           and exists (select 1 from public.question_contexts c
                        where c.message_id = new.reply_to and c.messages is not null)) then
      return new;
    end if;
    select r.slug into asked
      from public.chat_sessions s join public.ai_roles r on r.id = s.role_id
     where s.id = new.session_id and not r.is_active;
    if asked is null then
      return new;  -- no role bound, or an active one
    end if;
  elsif exists (select 1 from public.ai_roles r
                 where r.slug = asked and r.is_active
                   and (r.created_by is null or r.created_by = auth.uid())) then
    return new;
  end if;
  perform public.raise_refusal(404, 'RoleNotFound',
    format('The role %s does not exist or is switched off.', asked),
    jsonb_build_object('role_id', asked));
  return new;
end;
$$;
revoke execute on function public.chat_messages_check_role() from public, anon, authenticated;

-- 20261205000000's api_open_turn, saying before it inserts a question with its own messages that
-- the chat's role does not answer it.
create or replace function public.api_open_turn(
  question_id uuid, question text, model_id text, role_ref text, role_by_id boolean, named_session uuid,
  key_id uuid, key_name text, day date, context jsonb default null, parameters jsonb default '{}',
  attachments jsonb default '[]', web_search boolean default false
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
    insert into public.chat_messages (id, session_id, message_type, content, role_id, model, attachments, web_search)
    values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end,
            coalesce(attachments, '[]'), coalesce(web_search, false));
  else
    perform set_config('chatgalaxy.own_context', question_id::text, true);
    insert into public.chat_messages (id, session_id, message_type, content, role_id, model, parent_id, attachments,
                                      web_search)
    values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end, null,
            coalesce(attachments, '[]'), coalesce(web_search, false));
    perform set_config('chatgalaxy.own_context', '', true);
  end if;
  if context is not null or coalesce(parameters, '{}') <> '{}' then
    insert into public.question_contexts (message_id, messages, parameters)
    values (question_id, context, coalesce(parameters, '{}'));
  end if;
  return sid;
end;
$$;

revoke execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb, jsonb, boolean)
  from public, anon;
grant execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb, jsonb, boolean)
  to authenticated;
