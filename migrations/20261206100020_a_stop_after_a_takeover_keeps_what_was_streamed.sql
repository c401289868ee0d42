-- A stop right after a takeover keeps, and charges, what the dead worker streamed. A worker died
-- mid-answer and another claimed the answer: the claim starts the row over (its text, thinking and
-- counts emptied, so the new attempt's chunks and writes start from nothing), while the user still
-- saw the dead worker's text (the web app replaces it only at the new attempt's first chunk). A stop
-- then, before the new attempt had anything, ended the row `cancelled` with no text, charged the new
-- attempt's prompt at most: the text the user had read was neither kept nor charged. So was an
-- answer whose retake also died before writing, ended by the next claim or by a stop, and one whose
-- retake failed (an error) before its first token.
--
-- The rule: an answer ends with what its user last saw. When a claim takes an answer over, what the
-- attempt before had written (text, thinking, model and token counts, as its progress wrote them
-- since 20261205162400) is kept aside in `answer_retakes`; an attempt that wrote nothing leaves the
-- earlier one's there. When the answer then ends `cancelled` or `error` with no text and no thinking
-- of its own, whoever ends it (the new worker's finish, a later claim, a stop: all of them update the
-- row), the row takes the kept text, thinking, model and counts, and `tokens_used` from them, so the
-- settlement trigger (AFTER, reading the row as ended) charges them once. An attempt that has
-- written or sends anything of its own ends with its own, as before; its user saw it replace the
-- old. The kept copy goes when the answer ends. Both run inside the row's update, under its lock,
-- so no order of a stop and a claim escapes them.
--
-- A table of its own, not a column: the row's Realtime changes and REST reads stay as they were,
-- and only these triggers (SECURITY DEFINER) and service_role read it.

create table public.answer_retakes (
  answer_id uuid primary key references public.chat_messages (id) on delete cascade,
  attempt integer not null,
  content text not null,
  reasoning text,
  model text,
  input_tokens integer,
  output_tokens integer,
  reasoning_tokens integer
);
comment on table public.answer_retakes is
  'what an answer''s attempt had written when another worker took the answer over; kept until the answer ends';

alter table public.answer_retakes enable row level security;
revoke all on public.answer_retakes from public, anon, authenticated;
grant select on public.answer_retakes to service_role;
create policy "answer_retakes: service_role reads" on public.answer_retakes
  for select to service_role using (true);

-- A takeover: the attempt before had written something; keep it.
create function public.chat_messages_keep_retaken() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.answer_retakes as k
    (answer_id, attempt, content, reasoning, model, input_tokens, output_tokens, reasoning_tokens)
  values (old.id, old.attempts, old.content, old.reasoning, old.model, old.input_tokens, old.output_tokens,
          old.reasoning_tokens)
  on conflict (answer_id) do update
     set attempt = excluded.attempt, content = excluded.content, reasoning = excluded.reasoning,
         model = excluded.model, input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
         reasoning_tokens = excluded.reasoning_tokens;
  return null;
end;
$$;
revoke execute on function public.chat_messages_keep_retaken() from public, anon, authenticated;

create trigger chat_messages_keep_retaken after update of attempts on public.chat_messages
  for each row
  when (old.message_type = 'assistant' and new.attempts > old.attempts
        and (old.content <> '' or old.reasoning is not null))
  execute function public.chat_messages_keep_retaken();

-- A retaken answer ends with nothing of its own: it ends with what was kept (BEFORE, so the row
-- written, and settled, is the one the user saw).
create function public.chat_messages_end_as_seen() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  kept public.answer_retakes;
begin
  select * into kept from public.answer_retakes k where k.answer_id = new.id;
  if found then
    new.content := kept.content;
    new.reasoning := kept.reasoning;
    new.model := coalesce(kept.model, new.model);
    new.input_tokens := kept.input_tokens;
    new.output_tokens := kept.output_tokens;
    new.reasoning_tokens := kept.reasoning_tokens;
    new.tokens_used := coalesce(kept.input_tokens, 0) + coalesce(kept.output_tokens, 0);
  end if;
  return new;
end;
$$;
revoke execute on function public.chat_messages_end_as_seen() from public, anon, authenticated;

create trigger chat_messages_end_as_seen before update of status on public.chat_messages
  for each row
  when (old.message_type = 'assistant' and old.attempts > 1
        and old.status in ('pending', 'streaming') and new.status in ('cancelled', 'error')
        and new.content = '' and new.reasoning is null)
  execute function public.chat_messages_end_as_seen();

-- The answer is final: nothing more to keep.
create function public.chat_messages_forget_retaken() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.answer_retakes k where k.answer_id = new.id;
  return null;
end;
$$;
revoke execute on function public.chat_messages_forget_retaken() from public, anon, authenticated;

create trigger chat_messages_forget_retaken after update of status on public.chat_messages
  for each row
  when (old.message_type = 'assistant' and old.attempts > 1
        and old.status in ('pending', 'streaming') and new.status in ('completed', 'error', 'cancelled'))
  execute function public.chat_messages_forget_retaken();
