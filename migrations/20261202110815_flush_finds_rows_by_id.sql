-- worker_flush, as 20261201210122_reasoning_and_history_files_again.sql defines it, finding its rows
-- by primary key whatever the planner believes about the table.
--
-- The update joined the batch (jsonb_to_recordset) to chat_messages filtered by "assistant, open,
-- held by this worker". Right after a burst of questions the planner's statistics still say almost
-- no answer is open, so it scanned the open answers through their partial index and, for each,
-- went through the whole batch: 2,100 open answers x 300 updates took ~560 ms of one flush (~2 ms a
-- row; in bench/worker_bench.py's throughput burst ~1.5 ms of Postgres's time per turn, most of it).
-- Now each update finds its row by id (a lateral lookup that locks it, with the same conditions),
-- and the update itself is joined on the primary key alone, so no plan can be quadratic in the
-- batch: the same flush takes a few ms. Behaviour is unchanged (tests/worker/test_claims_sql.py).

create or replace function public.worker_flush(worker text, lease_seconds double precision, updates jsonb)
returns table (id uuid, cancel_requested boolean)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
  with u as (
    select *
      from jsonb_to_recordset(updates) as u(
           id uuid, kind text, known integer, delta text, content text, status public.message_status,
           model text, input_tokens integer, output_tokens integer, response_time integer,
           finish_reason text, error_code text, error_message text, reasoning text, reasoning_ms integer,
           reasoning_tokens integer, cached_tokens integer, search_calls integer, sources jsonb,
           image_tokens integer, rknown integer, rdelta text)
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
         model = case when u.kind = 'finish' then coalesce(u.model, m.model) else m.model end,
         input_tokens = case when u.kind = 'finish' then u.input_tokens else m.input_tokens end,
         output_tokens = case when u.kind = 'finish' then u.output_tokens else m.output_tokens end,
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
         reasoning_tokens = case when u.kind = 'finish' then u.reasoning_tokens else m.reasoning_tokens end,
         cached_tokens = case when u.kind = 'finish' then u.cached_tokens else m.cached_tokens end,
         search_calls = case when u.kind = 'finish' then u.search_calls else m.search_calls end,
         sources = case when u.kind = 'finish' then u.sources else m.sources end,
         image_tokens = case when u.kind = 'finish' then u.image_tokens else m.image_tokens end
    from held u
   where m.id = u.id
  returning m.id, m.cancel_requested;
end;
$$;
