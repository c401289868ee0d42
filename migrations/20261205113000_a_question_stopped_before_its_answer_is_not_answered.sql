-- Stopping a question before the worker has claimed it stops it. Stop asked the answer in flight
-- to stop (`cancel_requested`, the one column a user may change on an answer), but a question's
-- answer row exists only once a worker claims the question: a stop sent right after the question
-- (the API's `POST /api/chat/stop`, a WebSocket `stop` frame, the web app's Stop button) found no
-- answer, stopped nothing, and the answer was then written and charged in full. The web app polled
-- for the row for a few seconds and gave up silently when no worker claimed it in time.
--
-- Now `chat_stop(session, message)` is the one stop of every door, in one transaction:
--   * a question of the caller's still waiting for its claim (its reservation open, no answer row)
--     gets its answer 1 now, already `cancelled` (the claim's takeover only takes an answer still
--     pending or streaming, so no worker answers it), its reservation released (no model was read),
--     and questions sent after it move under that answer as a claim would move them;
--   * answers in flight are asked to stop, as before;
-- named by a question's or an answer's id, or every one of a session's. It returns how many it
-- stopped. Whichever of the claim and the stop comes first wins: the stop's insert waits for a
-- claim's and then finds its answer in flight. Security definer, for the caller's own rows only,
-- and at full assurance for a user with a second factor (as their rows' policies ask).

create or replace function public.chat_stop(session uuid default null, message uuid default null) returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  ended integer;
  asked integer;
begin
  if not public.mfa_satisfied() then
    raise exception 'enter your two-factor code first (aal2 required)' using errcode = '42501';
  end if;
  if chat_stop.session is null and chat_stop.message is null then
    raise exception 'name a session or a message to stop' using errcode = '22023';
  end if;
  with waiting as (
    select q.id, q.session_id, q.user_id, q.role_id
      from public.usage_ledger l
      join public.chat_messages q on q.id = l.message_id and q.message_type = 'user'
     where l.user_id = auth.uid() and l.state = 'reserved'
       and (chat_stop.session is null or l.session_id = chat_stop.session)
       and (chat_stop.message is null or l.message_id = chat_stop.message)
       and not exists (select 1 from public.chat_messages a where a.reply_to = q.id)
  ), answered as (
    insert into public.chat_messages as a
      (session_id, user_id, message_type, content, role_id, status, reply_to, answer_no, cancel_requested)
    select w.session_id, w.user_id, 'assistant', '', w.role_id, 'cancelled', w.id, 1, true
      from waiting w
    on conflict (reply_to, answer_no) do nothing
    returning a.id, a.reply_to
  ), released as (
    update public.usage_ledger l
       set state = 'released', charged = 0, settled_at = now()
      from answered e
     where l.message_id = e.reply_to and l.state = 'reserved'
  ), moved as (
    update public.chat_messages f
       set parent_id = e.id
      from answered e
     where f.parent_id = e.reply_to and f.message_type <> 'assistant'
  )
  select count(*) into ended from answered;

  update public.chat_messages a
     set cancel_requested = true
   where a.user_id = auth.uid() and a.message_type = 'assistant' and a.status in ('pending', 'streaming')
     and (chat_stop.session is null or a.session_id = chat_stop.session)
     and (chat_stop.message is null or a.id = chat_stop.message or a.reply_to = chat_stop.message);
  get diagnostics asked = row_count;
  return ended + asked;
end;
$$;
revoke execute on function public.chat_stop(uuid, uuid) from public, anon;
grant execute on function public.chat_stop(uuid, uuid) to authenticated;
