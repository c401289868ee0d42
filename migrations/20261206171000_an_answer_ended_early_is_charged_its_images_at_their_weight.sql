-- An answer that ends before the model's usage came is charged its images at the image weight, as a
-- completed answer is. DashScope counts an image's tokens inside `input_tokens` and again as
-- `image_tokens`, and `usage_charge` weighs those apart (20261206100070); but an answer stopped, or
-- failed after its first token, was written with the prompt's own count as `input_tokens` (the
-- images in it, 1,282 tokens each, the most one costs) and no `image_tokens`, so its images were
-- charged at the input weight; and the progress writes, which say what an answer has cost for
-- whoever ends it after its worker died (20261205162400), carried no `image_tokens` at all.
--
-- Now the worker says the image tokens with the input tokens (the prompt's count, then the model's
-- once its stream says it), at its finish and in each progress write of an answer with images (0
-- while no call has the prompt, as its input tokens);
-- `worker_flush` keeps what progress says of them as it keeps the input tokens (20261206141000's
-- function with that one column written by progress too: a text answer's writes carry no such key,
-- so the column stays as it was), a takeover keeps them aside with the rest (`answer_retakes`) and
-- starts the row's count over, as it does the search's (20261206100050), since the new attempt's
-- writes say their own. Charges already settled are left as they were.

alter table public.answer_retakes add column image_tokens integer;

-- worker_flush, as 20261206141000 defines it; progress writes the image tokens too.
create or replace function public.worker_flush(worker text, lease_seconds double precision, updates jsonb)
returns table (id uuid, cancel_requested boolean, length integer, tokens_used integer)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  -- A finish already in its row: sent again after the connection that carried it was lost once
  -- it had committed. The row is final with this finish's attempt, status, text, error and response
  -- time (a claim or a stop that ended the row wrote no response time, and another worker's finish
  -- another attempt): it is answered as written, and nothing is written again.
  return query
  select m.id, m.cancel_requested, char_length(m.content), m.tokens_used
    from jsonb_to_recordset(updates) as u(id uuid, kind text, attempt integer, status public.message_status,
                                          content text, error_code text, response_time integer, reasoning text)
    join public.chat_messages m on m.id = u.id
   where u.kind = 'finish'
     and m.message_type = 'assistant'
     and m.status in ('completed', 'error', 'cancelled')
     and m.status = u.status
     and m.attempts = u.attempt
     and m.response_time = u.response_time
     and (m.content = coalesce(u.content, m.content)
          or (coalesce(u.content, '') = '' and u.reasoning is null and m.attempts > 1
              and m.status in ('cancelled', 'error')))
     and m.error_code is not distinct from u.error_code;

  return query
  with u as (
    select *
      from jsonb_to_recordset(updates) as u(
           id uuid, kind text, known integer, delta text, content text, status public.message_status,
           model text, input_tokens integer, output_tokens integer, response_time integer,
           finish_reason text, error_code text, error_message text, reasoning text, reasoning_ms integer,
           reasoning_tokens integer, cached_tokens integer, search_calls integer, sources jsonb,
           image_tokens integer, rknown integer, rdelta text, attempt integer)
     where u.kind in ('progress', 'finish', 'release')
       and (u.kind <> 'finish' or u.status in ('completed', 'error', 'cancelled'))
  ), held as (
    -- Each named row by its primary key, locked, if this worker still holds it.
    select u.*
      from u
      cross join lateral (select 1 from public.chat_messages m
                           where m.id = u.id
                             and m.message_type = 'assistant'
                             and m.lease_owner = worker
                             and m.status in ('pending', 'streaming')
                             for no key update) h
  )
  update public.chat_messages m
     set content = case u.kind
                     when 'progress' then left(m.content, coalesce(u.known, 0)) || coalesce(u.delta, '')
                     when 'finish' then coalesce(u.content, m.content)
                     else m.content end,
         status = case u.kind
                    when 'progress' then case when coalesce(u.known, 0) + char_length(coalesce(u.delta, '')) > 0
                                              then 'streaming'::public.message_status else m.status end
                    when 'finish' then u.status
                    else 'pending'::public.message_status end,
         lease_owner = case when u.kind = 'progress' then m.lease_owner end,
         lease_expires_at = case when u.kind = 'progress' then now() + make_interval(secs => lease_seconds) end,
         model = case when u.kind in ('finish', 'progress') then coalesce(u.model, m.model) else m.model end,
         input_tokens = case u.kind when 'finish' then u.input_tokens
                                  when 'progress' then coalesce(u.input_tokens, m.input_tokens)
                                  else m.input_tokens end,
         output_tokens = case u.kind when 'finish' then u.output_tokens
                                  when 'progress' then coalesce(u.output_tokens, m.output_tokens)
                                  else m.output_tokens end,
         tokens_used = case when u.kind = 'finish'
                            then coalesce(u.input_tokens, 0) + coalesce(u.output_tokens, 0)
                            else m.tokens_used end,
         response_time = case when u.kind = 'finish' then u.response_time else m.response_time end,
         finish_reason = case when u.kind = 'finish' then u.finish_reason else m.finish_reason end,
         error_code = case when u.kind = 'finish' then u.error_code else m.error_code end,
         error_message = case when u.kind = 'finish' then u.error_message else m.error_message end,
         reasoning = case u.kind
                       when 'finish' then u.reasoning
                       when 'progress' then
                         case when u.rknown is not null
                              then left(coalesce(m.reasoning, ''), u.rknown) || coalesce(u.rdelta, '')
                              when coalesce(u.known, 0) = 0 then null
                              else m.reasoning end
                       else m.reasoning end,
         reasoning_ms = case when u.kind = 'finish' then u.reasoning_ms else m.reasoning_ms end,
         reasoning_tokens = case u.kind when 'finish' then u.reasoning_tokens
                                       when 'progress' then coalesce(u.reasoning_tokens, m.reasoning_tokens)
                                       else m.reasoning_tokens end,
         cached_tokens = case when u.kind = 'finish' then u.cached_tokens else m.cached_tokens end,
         search_calls = case u.kind when 'finish' then u.search_calls
                                    when 'progress' then coalesce(u.search_calls, m.search_calls)
                                    else m.search_calls end,
         sources = case when u.kind = 'finish' then u.sources else m.sources end,
         image_tokens = case u.kind when 'finish' then u.image_tokens
                                    when 'progress' then coalesce(u.image_tokens, m.image_tokens)
                                    else m.image_tokens end,
         handed_back = case when u.kind = 'release' then m.handed_back + 1 else m.handed_back end
    from held u
   where m.id = u.id
  returning m.id, m.cancel_requested,
            -- a finish's row as it ended (after the BEFORE triggers: a retake's kept text)
            case when u.kind = 'finish' then char_length(m.content) end,
            case when u.kind = 'finish' then m.tokens_used end;
end;
$$;

-- A takeover keeps the images' count with the text and the other counts.
create or replace function public.chat_messages_keep_retaken() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.answer_retakes as k
    (answer_id, attempt, content, reasoning, model, input_tokens, output_tokens, reasoning_tokens, search_calls,
     image_tokens)
  values (old.id, old.attempts, old.content, old.reasoning, old.model, old.input_tokens, old.output_tokens,
          old.reasoning_tokens, old.search_calls, old.image_tokens)
  on conflict (answer_id) do update
     set attempt = excluded.attempt, content = excluded.content, reasoning = excluded.reasoning,
         model = excluded.model, input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
         reasoning_tokens = excluded.reasoning_tokens, search_calls = excluded.search_calls,
         image_tokens = excluded.image_tokens;
  return null;
end;
$$;

-- A takeover starts the row's count over: the claim empties the input tokens, and the images are
-- part of them (a retake that dies before its first write leaves no images without their prompt).
create function public.chat_messages_retake_starts_images_over() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.image_tokens := null;
  return new;
end;
$$;
revoke execute on function public.chat_messages_retake_starts_images_over() from public, anon, authenticated;

create trigger chat_messages_retake_starts_images_over before update of attempts on public.chat_messages
  for each row
  when (old.message_type = 'assistant' and new.attempts > old.attempts and old.image_tokens is not null)
  execute function public.chat_messages_retake_starts_images_over();

-- A retaken answer that ends with nothing of its own ends with the kept counts, its images' too.
create or replace function public.chat_messages_end_as_seen() returns trigger
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
    new.search_calls := kept.search_calls;
    new.image_tokens := kept.image_tokens;
    new.tokens_used := coalesce(kept.input_tokens, 0) + coalesce(kept.output_tokens, 0);
  end if;
  return new;
end;
$$;
