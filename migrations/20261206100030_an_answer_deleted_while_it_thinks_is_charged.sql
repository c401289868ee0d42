-- A turn deleted while its answer thinks, or right after another worker took the answer over, is
-- charged, as one deleted while its text streams is (20261201191600, 20261205063000). Those judged
-- "the answer had started" by `status = 'streaming'`, and a row becomes `streaming` at its first
-- word of text: a thinking model's answer stays `pending` while it thinks (its thinking written as
-- it streams since 20261205162400), and a takeover's claim sets the row back to `pending`. So a
-- question, or its chat, deleted while the model thought (for minutes, thousands of tokens, all
-- read by the user and paid for at DashScope) released its reservation, as did one deleted after a
-- takeover, before the new attempt's first word: the answer cost nothing.
--
-- Now an answer is under way once it has written anything its user saw: text (`streaming`),
-- thinking (`reasoning`), or an earlier attempt's text kept aside at a takeover (`answer_retakes`,
-- 20261206100020). Everything else is unchanged: a question whose answer has written nothing is
-- released, a started one settles its reservation (charged what was reserved), whichever row goes
-- first.

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
                    where a.reply_to = old.id and a.answer_no = 1
                      and (a.status = 'streaming'
                           or (a.status = 'pending'
                               and (a.reasoning is not null
                                    or exists (select 1 from public.answer_retakes k where k.answer_id = a.id)))))
      into started;
  else
    started := old.status = 'streaming'
               or (old.status = 'pending'
                   and (old.reasoning is not null
                        or exists (select 1 from public.answer_retakes k where k.answer_id = old.id)));
    if old.answer_no = 1 then
      if not started then
        return old;  -- its question's reservation stays open for the question
      end if;
      holder := old.reply_to;
    end if;
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
  for each row when (old.message_type = 'user' or old.answer_no > 1 or old.status = 'streaming'
                     or (old.status = 'pending' and (old.reasoning is not null or old.attempts > 1)))
  execute function public.usage_release_deleted();
