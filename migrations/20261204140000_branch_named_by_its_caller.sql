-- A branch named by its caller: `chat_branch(message, session)` makes the new chat under the id the
-- caller chose, and a call with an id that is already the caller's session returns it without
-- copying again. The web app names each branch (a UUID it made) and asks again with the same name
-- when the answer was lost, so a dropped connection never makes a second copy of the conversation
-- (web/src/lib/storeOnce.ts). Another user's session id fails as any insert of a taken id does
-- (23505, "duplicate key"). Without `session` it is the function it was (a fresh id).
--
-- The body is 20261201190836_branch_attachments_guest_answers.sql's, with the session's id.

drop function public.chat_branch(uuid);

create function public.chat_branch(message uuid, session uuid default null) returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  target public.chat_messages;
  origin public.chat_sessions;
  fresh uuid;
begin
  select * into target from public.chat_messages m where m.id = chat_branch.message and m.user_id = auth.uid();
  if not found then
    raise exception 'MessageNotFound: no such message' using errcode = 'PT404';
  end if;
  if exists (select 1 from public.chat_sessions s where s.id = chat_branch.session and s.user_id = auth.uid()) then
    return chat_branch.session;  -- made by an earlier call whose answer was lost
  end if;
  select * into origin from public.chat_sessions s where s.id = target.session_id;
  insert into public.chat_sessions (id, user_id, role_id, title)
  values (coalesce(chat_branch.session, gen_random_uuid()), origin.user_id, origin.role_id, origin.title)
  returning id into fresh;
  with recursive up(msg, depth) as (
    select m, 0 from public.chat_messages m
     where m.id = case when target.message_type = 'assistant' then target.id else target.parent_id end
    union all
    select p.m, u.depth + 1
      from up u
      cross join lateral (select m from public.chat_messages m where m.id = (u.msg).parent_id limit 1) p
  ), copied as (
    select (u.msg).*, u.depth, gen_random_uuid() as copy_id from up u
  )
  insert into public.chat_messages
    (id, session_id, user_id, message_type, content, role_id, status, reply_to, answer_no, parent_id, model,
     input_tokens, output_tokens, tokens_used, response_time, finish_reason, error_code, error_message,
     attempts, created_at, attachments)
  select c.copy_id, fresh, c.user_id, c.message_type, c.content, c.role_id,
         case when c.status in ('pending', 'streaming') then 'cancelled'::public.message_status else c.status end,
         r.copy_id, case when c.message_type = 'assistant' then 1 end, p.copy_id, c.model,
         c.input_tokens, c.output_tokens, c.tokens_used, c.response_time, c.finish_reason, c.error_code,
         c.error_message, c.attempts, c.created_at, c.attachments
    from copied c
    left join copied p on p.id = c.parent_id
    left join copied r on r.id = c.reply_to
   order by c.depth desc;
  return fresh;
end;
$$;

revoke execute on function public.chat_branch(uuid, uuid) from public, anon;
grant execute on function public.chat_branch(uuid, uuid) to authenticated;
