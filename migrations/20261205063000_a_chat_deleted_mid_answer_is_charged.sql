-- A chat deleted while its answer streams is charged, as a turn deleted mid-answer is. Deleting a
-- question charges its reservation when its answer had started (tokens were spent) and releases it
-- otherwise (20261201191600), judging by the answer's row. Deleting the chat deletes its messages
-- by the session's index, newest first, so the streaming answer went before its question, the
-- question then found no answer started, and the answer was free: any answer could be had for
-- nothing by deleting its chat before it finished.
--
-- Now an answer deleted while it streams settles what its question reserved (answer 1) or what it
-- reserved itself (a requested answer), whichever row goes first; the question's own delete then
-- finds nothing open. An answer 1 deleted before it starts leaves its question's reservation open
-- for the question (deleted with it, or answered again).

create or replace function public.usage_release_deleted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  started boolean;
  holder uuid := old.id;  -- the ledger row's message: the question, or a requested answer
begin
  if old.message_type = 'user' then
    select exists (select 1 from public.chat_messages a
                    where a.reply_to = old.id and a.answer_no = 1 and a.status = 'streaming')
      into started;
  elsif old.answer_no > 1 then
    started := old.status = 'streaming';
  elsif old.status = 'streaming' then
    started := true;
    holder := old.reply_to;
  else
    return old;
  end if;
  update public.usage_ledger l
     set state = case when started then 'settled' else 'released' end,
         charged = case when started then l.reserved else 0 end,
         settled_at = now()
   where l.message_id = holder and l.state = 'reserved';
  return old;
end;
$$;
revoke execute on function public.usage_release_deleted() from public, anon, authenticated;

drop trigger chat_messages_quota_release on public.chat_messages;
create trigger chat_messages_quota_release before delete on public.chat_messages
  for each row when (old.message_type = 'user' or old.answer_no > 1 or old.status = 'streaming')
  execute function public.usage_release_deleted();
