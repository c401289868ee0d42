-- A stop ends at once an answer no live worker holds. Stop asked the answer to stop
-- (`cancel_requested`) and left the ending to its worker; when that worker had died mid-answer,
-- nothing ended it until its lease expired and a sweep's claim found the request: the answer kept
-- `streaming` (the web app's Stop button spinning, the API's stop unanswered) for the lease plus a
-- sweep, ~40 s by default, and for as long as no worker ran at all.
--
-- Now `chat_stop` ends there and then an answer whose lease has already expired (or that has none:
-- released at a shutdown, or never claimed), as a claim at that moment would end it
-- (20261205162400): `cancelled` with the text written, its lease cleared, `tokens_used` from the
-- usage its progress writes carried, so the settlement trigger charges its reservation once, what
-- was streamed. An expired lease is one any worker may take, so ending it is what a claim would do;
-- a worker that lives but renewed too late is refused its next write (it no longer holds the row)
-- and stops, as when another worker takes its answer. The stop and a claim lock the row in turn and
-- the second re-reads it: a claim first holds a live lease, and the stop only asks its worker; a
-- stop first leaves a final row no claim takes. Answers with a live lease are asked, as before.

-- chat_stop, as 20261205113000_a_question_stopped_before_its_answer_is_not_answered.sql defines it.
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

  -- Each expression reads the row as this update finds it locked: a claim that took it over
  -- meanwhile holds a live lease, so the row is only asked to stop.
  update public.chat_messages a
     set cancel_requested = true,
         status = case when coalesce(a.lease_expires_at, '-infinity') <= now()
                       then 'cancelled'::public.message_status else a.status end,
         lease_owner = case when coalesce(a.lease_expires_at, '-infinity') <= now() then null else a.lease_owner end,
         lease_expires_at = case when coalesce(a.lease_expires_at, '-infinity') <= now()
                                 then null else a.lease_expires_at end,
         tokens_used = case when coalesce(a.lease_expires_at, '-infinity') <= now()
                            then coalesce(a.input_tokens, 0) + coalesce(a.output_tokens, 0) else a.tokens_used end
   where a.user_id = auth.uid() and a.message_type = 'assistant' and a.status in ('pending', 'streaming')
     and (chat_stop.session is null or a.session_id = chat_stop.session)
     and (chat_stop.message is null or a.id = chat_stop.message or a.reply_to = chat_stop.message);
  get diagnostics asked = row_count;
  return ended + asked;
end;
$$;
revoke execute on function public.chat_stop(uuid, uuid) from public, anon;
grant execute on function public.chat_stop(uuid, uuid) to authenticated;
