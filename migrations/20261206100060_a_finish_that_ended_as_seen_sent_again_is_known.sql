-- A finish that ended its row with what its user last saw is known as written when it is sent
-- again. A worker sends a finish again when the connection that carried it was lost after it
-- committed (20261205164830); the row is recognised by the finish's attempt, status, text, error and
-- response time. A retake's finish with no text of its own ends its row with the text the attempt
-- before had written (20261206100020), so the row's text is not the finish's: sent again, it was
-- taken for a row another worker or a stop had ended, and the worker wrote it off as a lost lease
-- and never told its subscribers the answer was done (they found it final only by reading the row).
--
-- Now a finish with no text and no thinking of its own is also known by a row that ended so
-- (`cancelled` or `error`, a retaken attempt); attempt, status, error and response time still
-- identify it. `worker_flush` is 20261206100050's with that condition.

create or replace function public.worker_flush(worker text, lease_seconds double precision, updates jsonb)
returns table (id uuid, cancel_requested boolean)
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
  select m.id, m.cancel_requested
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
  returning m.id, m.cancel_requested;
end;
$$;

