-- The broadcast that ends an answer says what its row holds. A retaken answer that ends with nothing
-- of its own (stopped, failed or out of attempts before the new attempt's first token) ends with the
-- text, thinking and counts the attempt before had written (answer_retakes, 20261206100020): the row
-- is put right by a BEFORE trigger inside the finish's update, which the worker never saw. Its `done`
-- then said `length` 0 and the new attempt's tokens, so a client that trusts `done` (the web app
-- checks its text against `length`) took the answer to be empty, and had to read the row to learn
-- otherwise.
--
-- Now `worker_flush` returns, for each finish it wrote (or knew as written, 20261206100060), the
-- length of the row's text and its `tokens_used` as the row ended, read in the same statement that
-- ended it (RETURNING sees the row after its BEFORE triggers): nothing can come between. Progress
-- writes return nulls there, so the flush costs no more per streaming row. It is 20261206100060's
-- function with those two columns; a function's result columns cannot be changed in place, so it is
-- dropped and made again, in this migration's one transaction, and granted as 20261124000600 granted
-- it. A worker that selects the two columns it knew still finds them.

drop function public.worker_flush(text, double precision, jsonb);

create function public.worker_flush(worker text, lease_seconds double precision, updates jsonb)
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
         image_tokens = case when u.kind = 'finish' then u.image_tokens else m.image_tokens end,
         handed_back = case when u.kind = 'release' then m.handed_back + 1 else m.handed_back end
    from held u
   where m.id = u.id
  returning m.id, m.cancel_requested,
            -- a finish's row as it ended (after the BEFORE triggers: a retake's kept text)
            case when u.kind = 'finish' then char_length(m.content) end,
            case when u.kind = 'finish' then m.tokens_used end;
end;
$$;

revoke execute on function public.worker_flush(text, double precision, jsonb) from public, anon, authenticated;
grant execute on function public.worker_flush(text, double precision, jsonb) to service_role;
