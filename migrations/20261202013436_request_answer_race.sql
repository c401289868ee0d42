-- request_answer asked "does answer n exist?" and then, in a later statement, "what is the highest
-- answer?". Each statement sees the rows committed when it starts, so a racing request whose answer
-- n committed between the two found no row n and then a highest answer of n: it refused with
-- StaleAnswerNumber ("the next answer is n + 1") instead of returning answer n
-- (tests/worker/test_trees.py::test_racing_regenerate_requests_make_one_answer). The highest answer
-- is now read first: whatever commits after it is found by the look-up that follows.
-- Body otherwise unchanged from 20261201190836_branch_attachments_guest_answers.sql.

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
  top := coalesce((select max(m.answer_no) from public.chat_messages m where m.reply_to = q.id), 0);
  select * into a from public.chat_messages m where m.reply_to = q.id and m.answer_no = request_answer.answer_no;
  if found then
    return a;
  end if;
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
