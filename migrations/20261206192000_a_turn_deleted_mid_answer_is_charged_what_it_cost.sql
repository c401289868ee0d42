-- A turn deleted while its answer is under way is charged what the answer had cost, not its
-- reservation. Since 20261201191600 (and 20261205063000, 20261206100030, which said when an answer is
-- under way) such a delete settled the reservation as the charge: the model's `reserve_tokens` and
-- the question's length, an admission estimate that knows nothing of what the model did. So a
-- thinking answer deleted after thousands of reasoning tokens, an image answer (admission holds no
-- image tokens) or one that had searched was charged far less than the model spent, and an answer
-- deleted after its first words far more (2,000 allowance tokens for a prompt of 30 and 5 words).
--
-- The row says what it had cost: the worker's progress writes carry the prompt's tokens once a
-- call has them, the text's and thinking's so far, the images' and the search's (20261205162400,
-- 20261206050030, 20261206171000), which is what a stop after the worker died charges. Now a delete
-- charges those, as that stop would:
-- - an answer with text or thinking of its own: its row's counts;
-- - one taken over by another worker with nothing of its own yet: the attempt before's counts, kept
--   aside at the takeover (`answer_retakes`), as a stop then is charged (20261206100020);
-- - one whose call has the prompt and nothing written yet (a lease renewal said the prompt's tokens):
--   the prompt, as a stop then is ("an answer's prompt is charged once the model has it", README),
--   where it was released;
-- - one with nothing written: released, as before.
-- A row that says no counts at all (written before progress carried them) is charged its reservation,
-- as before. What the model streamed after the last progress write (one flush interval, 0.25 s) and
-- before the worker found its row gone is not counted: the row that would hold it is deleted.
-- Charges already settled are left as they were.

create or replace function public.usage_release_deleted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  answer public.chat_messages;
  kept public.answer_retakes;
  holder uuid := old.id;  -- the ledger row's message: the question, or a requested answer
  started boolean := false;
  spent_model text;
  spent_input integer;
  spent_output integer;
  spent_reasoning integer;
  spent_images integer;
  spent_searches integer;
begin
  if old.message_type = 'user' then
    select * into answer from public.chat_messages a where a.reply_to = old.id and a.answer_no = 1;
  else
    answer := old;
  end if;
  if answer.id is not null and answer.status in ('pending', 'streaming') then
    if answer.content <> '' or answer.reasoning is not null then
      started := true;
    else
      select * into kept from public.answer_retakes k where k.answer_id = answer.id;
      if found then
        started := true;
        spent_model := coalesce(kept.model, answer.model);
        spent_input := kept.input_tokens;
        spent_output := kept.output_tokens;
        spent_reasoning := kept.reasoning_tokens;
        spent_images := kept.image_tokens;
        spent_searches := kept.search_calls;
      elsif coalesce(answer.input_tokens, 0) > 0 then
        started := true;
      end if;
    end if;
    if started and kept.answer_id is null then
      spent_model := answer.model;
      spent_input := answer.input_tokens;
      spent_output := answer.output_tokens;
      spent_reasoning := answer.reasoning_tokens;
      spent_images := answer.image_tokens;
      spent_searches := answer.search_calls;
    end if;
  end if;
  if old.message_type = 'assistant' and old.answer_no = 1 then
    if not started then
      return old;  -- its question's reservation stays open for the question
    end if;
    holder := old.reply_to;
  end if;
  update public.usage_ledger l
     set state = case when started then 'settled' else 'released' end,
         charged = case when not started then 0
                        when spent_input is null and spent_output is null then l.reserved  -- no counts said
                        else public.usage_charge(coalesce(spent_model, l.model), spent_input, spent_output,
                                                 spent_reasoning, spent_images, spent_searches) end,
         model = case when started then coalesce(spent_model, l.model) else l.model end,
         input_tokens = case when started then spent_input else l.input_tokens end,
         output_tokens = case when started then spent_output else l.output_tokens end,
         reasoning_tokens = case when started then spent_reasoning else l.reasoning_tokens end,
         image_tokens = case when started then spent_images else l.image_tokens end,
         search_calls = case when started then spent_searches else l.search_calls end,
         settled_at = now()
   where l.message_id = holder and l.state = 'reserved';
  return old;
end;
$$;
revoke execute on function public.usage_release_deleted() from public, anon, authenticated;

-- An answer deleted alone (its chat's delete reaches it before its question) is looked at also when
-- a call has its prompt and nothing is written yet: by its question's turn it would be gone.
drop trigger chat_messages_quota_release on public.chat_messages;
create trigger chat_messages_quota_release before delete on public.chat_messages
  for each row when (old.message_type = 'user' or old.answer_no > 1 or old.status = 'streaming'
                     or (old.status = 'pending'
                         and (old.reasoning is not null or old.attempts > 1 or old.input_tokens > 0)))
  execute function public.usage_release_deleted();
