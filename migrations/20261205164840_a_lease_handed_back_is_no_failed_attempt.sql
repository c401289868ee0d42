-- A lease handed back at a shutdown is no failed attempt. A worker stopping gracefully (SIGTERM,
-- as every deploy sends) releases the answers it cannot finish within its grace, and another worker
-- takes each over at once; but the takeover counted as one more of the answer's WORKER_MAX_ATTEMPTS
-- claims, as a crash's does, so a long answer (an essay, a thinking model) through a few deploys in
-- a row ended `error` AttemptsExhausted, "failed repeatedly", though nothing had failed.
--
-- Now a release counts itself in `handed_back`, and the claim ends an answer out of attempts when
-- its claims less those handed back reach the limit: only claims whose worker died, hung or let its
-- lease lapse count. `attempts` still counts every claim (each attempt's chunks and retakes are told
-- apart by it). Only the lease's holder can release (worker_flush's held rows), and only a worker
-- told to stop does (worker/app.py), so no answer can hand itself back.

alter table public.chat_messages add column handed_back integer not null default 0;
comment on column public.chat_messages.handed_back is
  'claims of this answer released by a worker that stopped gracefully; they do not count against WORKER_MAX_ATTEMPTS';

-- worker_flush, as 20261205162600_a_finish_sent_again_is_known_as_written.sql defines it; a release counts.
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
                                          content text, error_code text, response_time integer)
    join public.chat_messages m on m.id = u.id
   where u.kind = 'finish'
     and m.message_type = 'assistant'
     and m.status in ('completed', 'error', 'cancelled')
     and m.status = u.status
     and m.attempts = u.attempt
     and m.response_time = u.response_time
     and m.content = coalesce(u.content, m.content)
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
         search_calls = case when u.kind = 'finish' then u.search_calls else m.search_calls end,
         sources = case when u.kind = 'finish' then u.sources else m.sources end,
         image_tokens = case when u.kind = 'finish' then u.image_tokens else m.image_tokens end,
         handed_back = case when u.kind = 'release' then m.handed_back + 1 else m.handed_back end
    from held u
   where m.id = u.id
  returning m.id, m.cancel_requested;
end;
$$;

-- worker_claim, as 20261205162400_an_answer_its_claim_ends_is_charged_what_was_streamed.sql defines it;
-- claims handed back do not count towards max_attempts.
create or replace function public.worker_claim(
  message_ids uuid[],
  worker text,
  lease_seconds double precision,
  max_attempts integer,
  history_limit integer,
  tips uuid[] default null,
  epochs bigint[] default null
) returns table (claim json, ids uuid[], types text[], contents text[], depths integer[], files jsonb[])
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  taken integer;
begin
  update public.chat_messages a
     set status = case when a.cancel_requested then 'cancelled'::public.message_status
                       else 'error'::public.message_status end,
         error_code = case when a.cancel_requested then null else 'AttemptsExhausted' end,
         error_message = case when a.cancel_requested then null
                              else 'The answer failed repeatedly; please ask again.' end,
         lease_owner = null,
         lease_expires_at = null,
         tokens_used = coalesce(a.input_tokens, 0) + coalesce(a.output_tokens, 0)
   where (a.id = any(message_ids) or (a.reply_to = any(message_ids) and a.answer_no = 1))
     and a.message_type = 'assistant'
     and a.status in ('pending', 'streaming')
     and coalesce(a.lease_expires_at, '-infinity') <= now()
     and (a.cancel_requested or a.attempts - a.handed_back >= max_attempts);

  -- Questions: create answer 1, or take it over when unleased.
  return query
  with offered as (
    select distinct on (k.id) k.id, k.tip, k.epoch
      from unnest(message_ids, tips, epochs) as k(id, tip, epoch)
     order by k.id, k.tip nulls last
  ), questions as (
    select q.id, q.session_id, q.user_id, q.role_id
      from public.chat_messages q
     where q.id = any(message_ids) and q.message_type = 'user'
     order by q.id
  ), claimed as (
    insert into public.chat_messages as a
      (session_id, user_id, message_type, content, role_id, status, reply_to, answer_no,
       lease_owner, lease_expires_at, attempts)
    select q.session_id, q.user_id, 'assistant', '', q.role_id, 'pending', q.id, 1,
           worker, now() + make_interval(secs => lease_seconds), 1
      from questions q
    on conflict (reply_to, answer_no) do update
       set attempts = a.attempts + 1,
           status = 'pending',
           content = '',
           lease_owner = excluded.lease_owner,
           lease_expires_at = excluded.lease_expires_at,
           error_code = null,
           error_message = null,
           reasoning = null,
           input_tokens = null,
           output_tokens = null,
           reasoning_tokens = null
     where a.status in ('pending', 'streaming')
       and coalesce(a.lease_expires_at, '-infinity') <= now()
    returning a.id, a.reply_to, a.attempts, a.answer_no
  ), moved as (
    -- Questions sent while this one had no answer follow the answer from now on.
    update public.chat_messages f
       set parent_id = c.id
      from claimed c
     where c.answer_no = 1 and f.parent_id = c.reply_to and f.message_type <> 'assistant'
  )
  select x.claim, x.ids, x.types, x.contents, x.depths, x.files
    from (select array_agg(c.id) as ids, array_agg(c.reply_to) as questions, array_agg(c.attempts) as attempts,
                 array_agg(c.answer_no) as numbers, array_agg(o.tip) as tips, array_agg(o.epoch) as epochs
            from claimed c
            left join offered o on o.id = c.reply_to) b
    cross join lateral public.worker_claim_contexts(b.ids, b.questions, b.attempts, b.numbers, history_limit,
                                                    b.tips, b.epochs) x;

  -- Answer rows named directly (requested answers, retakes); a row just claimed above holds a
  -- fresh lease and is not taken again. When every offered id was claimed above as a question, none
  -- of them names an answer: nothing to look for (a new question's claim, and a whole burst's).
  get diagnostics taken = row_count;
  if taken >= cardinality(message_ids) then
    return;
  end if;
  return query
  with claimed as (
    update public.chat_messages a
       set attempts = a.attempts + 1,
           status = 'pending',
           content = '',
           lease_owner = worker,
           lease_expires_at = now() + make_interval(secs => lease_seconds),
           error_code = null,
           error_message = null,
           reasoning = null,
           input_tokens = null,
           output_tokens = null,
           reasoning_tokens = null
     where a.id = any(message_ids)
       and a.message_type = 'assistant'
       and a.status in ('pending', 'streaming')
       and coalesce(a.lease_expires_at, '-infinity') <= now()
    returning a.id, a.reply_to, a.attempts, a.answer_no
  )
  select x.claim, x.ids, x.types, x.contents, x.depths, x.files
    from (select array_agg(c.id) as ids, array_agg(c.reply_to) as questions, array_agg(c.attempts) as attempts,
                 array_agg(c.answer_no) as numbers
            from claimed c) b
    cross join lateral public.worker_claim_contexts(b.ids, b.questions, b.attempts, b.numbers, history_limit,
                                                    null, null) x;
end;
$$;
