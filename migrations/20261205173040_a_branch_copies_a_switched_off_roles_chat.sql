-- A branch of a chat whose persona is switched off or deleted is made as before. The checks of
-- 20261205171000 (a question, or a chat's binding, naming a role that cannot answer is refused
-- RoleNotFound) also met `chat_branch`'s copies, which it inserts as the user: a chat bound to a
-- switched-off role, or holding questions asked with a role since switched off or deleted, could
-- no longer be continued in a new chat (the copy is history, not a new question). And they did
-- not meet `request_answer`: a new answer asked for a question of such a role (regenerate) was
-- written by the assistant without a word.
--
-- Now both checks let the rows of the chat being copied pass (`chatgalaxy.copying`, which
-- `chat_branch` now sets before it makes the new chat, not after), and the question check also
-- covers an answer a user asks for (an `assistant` row inserted as them: `request_answer`),
-- refused RoleNotFound while its question's role cannot answer. `chat_branch` is 20261205020000's
-- with that one change.

create or replace function public.chat_messages_check_role() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if auth.role() is distinct from 'authenticated' or new.role_id is null
     or new.message_type not in ('user', 'assistant')
     or coalesce(current_setting('chatgalaxy.copying', true), '') = new.session_id::text then
    return new;
  end if;
  if not exists (select 1 from public.ai_roles r
                  where r.slug = new.role_id and r.is_active
                    and (r.created_by is null or r.created_by = auth.uid())) then
    perform public.raise_refusal(404, 'RoleNotFound',
      format('The role %s does not exist or is switched off.', new.role_id),
      jsonb_build_object('role_id', new.role_id));
  end if;
  return new;
end;
$$;
revoke execute on function public.chat_messages_check_role() from public, anon, authenticated;

create or replace function public.chat_sessions_check_role() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if auth.role() is distinct from 'authenticated' or new.role_id is null
     or (tg_op = 'UPDATE' and new.role_id is not distinct from old.role_id)
     or coalesce(current_setting('chatgalaxy.copying', true), '') = new.id::text then
    return new;
  end if;
  -- A role the caller cannot read at all is RLS's to refuse ("chat_sessions: owner creates").
  if exists (select 1 from public.ai_roles r
              where r.id = new.role_id and not r.is_active
                and (r.created_by is null or r.created_by = auth.uid())) then
    perform public.raise_refusal(404, 'RoleNotFound',
      format('The role %s does not exist or is switched off.', new.role_id),
      jsonb_build_object('role_id', new.role_id));
  end if;
  return new;
end;
$$;
revoke execute on function public.chat_sessions_check_role() from public, anon, authenticated;

create or replace function public.chat_branch(message uuid, session uuid default null) returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  target public.chat_messages;
  origin public.chat_sessions;
  fresh uuid;
  questions jsonb;  -- each copied question's id by its original's
begin
  select * into target from public.chat_messages m where m.id = chat_branch.message and m.user_id = auth.uid();
  if not found then
    raise exception 'MessageNotFound: no such message' using errcode = 'PT404';
  end if;
  if exists (select 1 from public.chat_sessions s where s.id = chat_branch.session and s.user_id = auth.uid()) then
    return chat_branch.session;  -- made by an earlier call whose answer was lost
  end if;
  select * into origin from public.chat_sessions s where s.id = target.session_id;
  fresh := coalesce(chat_branch.session, gen_random_uuid());
  -- What goes into it, the chat itself included, is no new question (nor a new choice of role).
  perform set_config('chatgalaxy.copying', fresh::text, true);
  insert into public.chat_sessions (id, user_id, role_id, title)
  values (fresh, origin.user_id, origin.role_id, origin.title);
  with recursive up(msg, depth) as (
    select m, 0 from public.chat_messages m
     where m.id = case when target.message_type = 'assistant' then target.id else target.parent_id end
    union all
    select p.m, u.depth + 1
      from up u
      cross join lateral (select m from public.chat_messages m where m.id = (u.msg).parent_id limit 1) p
  ), copied as (
    select (u.msg).*, u.depth, gen_random_uuid() as copy_id from up u
  ), inserted as (
    insert into public.chat_messages
      (id, session_id, user_id, message_type, content, role_id, status, reply_to, answer_no, parent_id, model,
       input_tokens, output_tokens, tokens_used, response_time, finish_reason, error_code, error_message,
       attempts, created_at, attachments, web_search, reasoning, reasoning_ms, sources, reasoning_tokens,
       cached_tokens)
    select c.copy_id, fresh, c.user_id, c.message_type, c.content, c.role_id,
           case when c.status in ('pending', 'streaming') then 'cancelled'::public.message_status else c.status end,
           r.copy_id, case when c.message_type = 'assistant' then 1 end, p.copy_id, c.model,
           c.input_tokens, c.output_tokens, c.tokens_used, c.response_time, c.finish_reason, c.error_code,
           c.error_message, c.attempts, c.created_at, c.attachments, c.web_search, c.reasoning, c.reasoning_ms,
           c.sources, c.reasoning_tokens, c.cached_tokens
      from copied c
      left join copied p on p.id = c.parent_id
      left join copied r on r.id = c.reply_to
     order by c.depth desc
  )
  select coalesce(jsonb_object_agg(c.id, c.copy_id) filter (where c.message_type = 'user'), '{}')
    into questions
    from copied c;
  -- a /v1 request's messages and parameters go with its copied question
  insert into public.question_contexts (message_id, user_id, messages, parameters)
  select (questions ->> x.message_id::text)::uuid, x.user_id, x.messages, x.parameters
    from public.question_contexts x
   where x.message_id in (select k::uuid from jsonb_object_keys(questions) k);
  perform set_config('chatgalaxy.copying', '', true);
  return fresh;
end;
$$;

revoke execute on function public.chat_branch(uuid, uuid) from public, anon;
grant execute on function public.chat_branch(uuid, uuid) to authenticated;
