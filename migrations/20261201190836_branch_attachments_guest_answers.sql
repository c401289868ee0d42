-- Two gaps closed. A branch copies the messages' attachments with them (a copied question shows
-- its files; the files are shared, and deleting either message keeps them while the other lists
-- them, 20261201181243_attachments_shared_on_regenerate.sql). And a guest whose questions are used
-- up (20261201175651_guest_limits.sql) cannot ask for more answers by regenerating either.
--
-- chat_branch starts from 20261201190349_tree_walks_by_index.sql, request_answer from
-- 20261201180531_conversation_trees.sql (their current definitions).

create or replace function public.chat_branch(message uuid) returns uuid
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
  select * into origin from public.chat_sessions s where s.id = target.session_id;
  insert into public.chat_sessions (user_id, role_id, title)
  values (origin.user_id, origin.role_id, origin.title)
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

create or replace function public.request_answer(question uuid, answer_no integer)
returns public.chat_messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  q public.chat_messages;
  a public.chat_messages;
  top integer;
begin
  select * into q from public.chat_messages m
   where m.id = request_answer.question and m.message_type = 'user' and m.user_id = auth.uid();
  if not found then
    raise exception 'QuestionNotFound: no such question' using errcode = 'PT404';
  end if;
  if public.is_guest() and public.guest_messages_left() <= 0 then
    raise exception 'GuestLimitReached: sign up to ask for more answers' using errcode = 'PT403';
  end if;
  select * into a from public.chat_messages m where m.reply_to = q.id and m.answer_no = request_answer.answer_no;
  if found then
    return a;
  end if;
  top := coalesce((select max(m.answer_no) from public.chat_messages m where m.reply_to = q.id), 0);
  if request_answer.answer_no is distinct from top + 1 then
    raise exception 'StaleAnswerNumber: the next answer is number %', top + 1 using errcode = 'PT409';
  end if;
  insert into public.chat_messages as m
    (session_id, user_id, message_type, content, role_id, status, reply_to, answer_no)
  values (q.session_id, q.user_id, 'assistant', '', q.role_id, 'pending', q.id, request_answer.answer_no)
  on conflict (reply_to, answer_no) do nothing
  returning * into a;
  if a.id is null then
    select * into a from public.chat_messages m where m.reply_to = q.id and m.answer_no = request_answer.answer_no;
    return a;
  end if;
  update public.chat_sessions s
     set current_leaf_id = a.id, branched = s.branched or a.answer_no > 1
   where s.id = q.session_id;
  return a;
end;
$$;
