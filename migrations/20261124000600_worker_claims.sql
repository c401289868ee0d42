-- The worker's side of chat_messages: atomic claims that are leases, batched progress and
-- finalisation, and the sweep that finds questions whose realtime event was missed.
--
-- Guarantees (README, "Worker"): the assistant row is the claim (`reply_to` is unique), so a
-- question has at most one answer whatever the workers do; a claim is a lease, renewed by every
-- progress write, and an expired lease lets another worker restart the answer on the same row;
-- only the lease holder can write the row. Everything here runs as service_role (the worker's
-- key) and is closed to every other role.

-- The sweep looks for recent questions without an answer row.
create index chat_messages_user_created_idx on public.chat_messages (created_at)
  where message_type = 'user';

-- Claim the given questions for `worker`: create each one's assistant row as `pending`, or take
-- over a row whose lease expired before it was finished. Returns, per row won, what a turn needs
-- in the same round trip: the question, the role (message slug, else the session's role, else
-- the built-in `assistant`) and the newest `history_limit` earlier messages, newest first.
-- A retaken row that was asked to stop, or that has used `max_attempts`, is finalised instead
-- (cancelled / error AttemptsExhausted) and not returned.
create or replace function public.worker_claim(
  message_ids uuid[],
  worker text,
  lease_seconds double precision,
  max_attempts integer,
  history_limit integer
) returns setof jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.chat_messages a
     set status = case when a.cancel_requested then 'cancelled'::public.message_status
                       else 'error'::public.message_status end,
         error_code = case when a.cancel_requested then null else 'AttemptsExhausted' end,
         error_message = case when a.cancel_requested then null
                              else 'The answer failed repeatedly; please ask again.' end,
         lease_owner = null,
         lease_expires_at = null
   where a.reply_to = any(message_ids)
     and a.status in ('pending', 'streaming')
     and coalesce(a.lease_expires_at, '-infinity') <= now()
     and (a.cancel_requested or a.attempts >= max_attempts);

  return query
  with questions as (
    select q.id, q.session_id, q.user_id, q.role_id
      from public.chat_messages q
     where q.id = any(message_ids) and q.message_type = 'user'
     order by q.id
  ), claimed as (
    insert into public.chat_messages as a
      (session_id, user_id, message_type, content, role_id, status, reply_to,
       lease_owner, lease_expires_at, attempts)
    select q.session_id, q.user_id, 'assistant', '', q.role_id, 'pending', q.id,
           worker, now() + make_interval(secs => lease_seconds), 1
      from questions q
    on conflict (reply_to) do update
       set attempts = a.attempts + 1,
           status = 'pending',
           content = '',
           lease_owner = excluded.lease_owner,
           lease_expires_at = excluded.lease_expires_at,
           error_code = null,
           error_message = null
     where a.status in ('pending', 'streaming')
       and coalesce(a.lease_expires_at, '-infinity') <= now()
    returning a.id, a.reply_to, a.attempts
  )
  select jsonb_build_object(
           'id', c.id,
           'reply_to', c.reply_to,
           'attempts', c.attempts,
           'session_id', q.session_id,
           'user_id', q.user_id,
           'question', q.content,
           'role', (
             select jsonb_build_object('slug', r.slug, 'system_prompt', r.system_prompt,
                                       'personality', r.personality)
               from public.ai_roles r
              where r.is_active
                and ((r.slug = q.role_id and (r.created_by is null or r.created_by = q.user_id))
                     or r.id = s.role_id
                     or (r.slug = 'assistant' and r.created_by is null))
              order by case when r.slug = q.role_id then 0 when r.id = s.role_id then 1 else 2 end
              limit 1),
           'history', (
             select coalesce(jsonb_agg(jsonb_build_object('type', h.message_type, 'content', h.content)
                                       order by h.created_at desc, h.id desc), '[]'::jsonb)
               from (select m.message_type, m.content, m.created_at, m.id
                       from public.chat_messages m
                      where m.session_id = q.session_id
                        and (m.created_at, m.id) < (q.created_at, q.id)
                        and (m.message_type = 'user'
                             or (m.message_type = 'assistant' and m.status = 'completed'))
                      order by m.created_at desc, m.id desc
                      limit greatest(history_limit, 0)) h))
    from claimed c
    join public.chat_messages q on q.id = c.reply_to
    join public.chat_sessions s on s.id = q.session_id;
end;
$$;

-- Write a batch of turns' progress in one statement. Each item is {id, kind, ...}:
--   progress {known, delta}: content = first `known` characters + delta (idempotent when
--            resent), status streaming once there is text, lease renewed;
--   finish   {status, content, model, input_tokens, output_tokens, response_time,
--            finish_reason, error_code, error_message}: the final row, lease cleared;
--   release  {}: lease cleared so any worker may retake the row at once.
-- Only rows this worker still holds are written; each comes back with its cancel_requested
-- flag, so a missing id means the lease was lost.
create or replace function public.worker_flush(worker text, lease_seconds double precision, updates jsonb)
returns table (id uuid, cancel_requested boolean)
language sql
volatile
set search_path = ''
as $$
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
         error_message = case when u.kind = 'finish' then u.error_message else m.error_message end
    from jsonb_to_recordset(updates) as u(
           id uuid, kind text, known integer, delta text, content text, status public.message_status,
           model text, input_tokens integer, output_tokens integer, response_time integer,
           finish_reason text, error_code text, error_message text)
   where m.id = u.id
     and m.message_type = 'assistant'
     and m.lease_owner = worker
     and m.status in ('pending', 'streaming')
     and u.kind in ('progress', 'finish', 'release')
     and (u.kind <> 'finish' or u.status in ('completed', 'error', 'cancelled'))
  returning m.id, m.cancel_requested
$$;

-- Questions that need a worker: recent ones (created within `lookback_seconds`) with no answer
-- row, and any whose answer row is unfinished with an expired or released lease.
create or replace function public.worker_sweep(lookback_seconds double precision, max_results integer)
returns setof uuid
language sql
stable
set search_path = ''
as $$
  (select q.id
     from public.chat_messages q
    where q.message_type = 'user'
      and q.created_at > now() - make_interval(secs => lookback_seconds)
      and not exists (select 1 from public.chat_messages a where a.reply_to = q.id)
    order by q.created_at
    limit max_results)
  union all
  (select a.reply_to
     from public.chat_messages a
    where a.status in ('pending', 'streaming')
      and coalesce(a.lease_expires_at, '-infinity') <= now()
    order by a.lease_expires_at nulls first
    limit max_results)
$$;

revoke execute on function public.worker_claim(uuid[], text, double precision, integer, integer)
  from public, anon, authenticated;
revoke execute on function public.worker_flush(text, double precision, jsonb) from public, anon, authenticated;
revoke execute on function public.worker_sweep(double precision, integer) from public, anon, authenticated;
grant execute on function public.worker_claim(uuid[], text, double precision, integer, integer) to service_role;
grant execute on function public.worker_flush(text, double precision, jsonb) to service_role;
grant execute on function public.worker_sweep(double precision, integer) to service_role;
