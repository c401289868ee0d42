-- A branch copies no question for the worker to answer. `chat_branch` copies the path above the
-- message it is given, and a question is still on that path without an answer when it was sent
-- and then another under it before its answer was claimed (the second follows the first until
-- then): branching at the second, to continue from there in a new chat, copied the first as a
-- question with no answer. Copies are no new sends and are not admitted (20261205020000), so the
-- worker, hearing the copy's insert or finding it in its sweep, claimed and answered it in the new
-- chat with no reservation to settle: free, while the original was answered and charged in the old.
--
-- Now such a copy gets its answer already `cancelled` in the same statement, as an answer copied
-- in flight is copied `cancelled`, and what the copy holds under it follows that answer, as
-- `chat_stop` does for a question stopped before its claim (20261205113000). `chat_branch` is
-- 20261205173040's with that step added before the copying ends.

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
  -- a copied question with no copied answer (still waiting in the chat copied) is answered by none
  with waiting as (
    select q.id, q.user_id, q.role_id
      from public.chat_messages q
     where q.session_id = fresh and q.message_type = 'user'
       and not exists (select 1 from public.chat_messages a where a.reply_to = q.id)
  ), answered as (
    insert into public.chat_messages as a
      (session_id, user_id, message_type, content, role_id, status, reply_to, answer_no, cancel_requested)
    select fresh, w.user_id, 'assistant', '', w.role_id, 'cancelled', w.id, 1, true
      from waiting w
    returning a.id, a.reply_to
  )
  update public.chat_messages f
     set parent_id = e.id
    from answered e
   where f.parent_id = e.reply_to and f.message_type <> 'assistant';
  perform set_config('chatgalaxy.copying', '', true);
  return fresh;
end;
$$;

revoke execute on function public.chat_branch(uuid, uuid) from public, anon;
grant execute on function public.chat_branch(uuid, uuid) to authenticated;
