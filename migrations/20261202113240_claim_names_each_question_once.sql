-- worker_claim as 20261202104157_claim_resumes_kept_history.sql defines it, with each offered id
-- once in `offered`: an id named twice in `message_ids` made two rows of the join that names the
-- kept histories, so one claimed question came back twice, and a worker would have answered it
-- twice at once. The worker never names an id twice (its offers are a set); the function must
-- not depend on that (tests/worker/test_claims_sql.py).

create or replace function public.worker_claim(
  message_ids uuid[],
  worker text,
  lease_seconds double precision,
  max_attempts integer,
  history_limit integer,
  tips uuid[] default null,
  epochs bigint[] default null
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
   where (a.id = any(message_ids) or (a.reply_to = any(message_ids) and a.answer_no = 1))
     and a.message_type = 'assistant'
     and a.status in ('pending', 'streaming')
     and coalesce(a.lease_expires_at, '-infinity') <= now()
     and (a.cancel_requested or a.attempts >= max_attempts);

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
           error_message = null
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
  select public.worker_claim_context(c.id, c.reply_to, c.attempts, c.answer_no, history_limit, o.tip, o.epoch)
    from claimed c
    left join offered o on o.id = c.reply_to;

  -- Answer rows named directly (requested answers, retakes); a row just claimed above holds a
  -- fresh lease and is not taken again.
  return query
  with claimed as (
    update public.chat_messages a
       set attempts = a.attempts + 1,
           status = 'pending',
           content = '',
           lease_owner = worker,
           lease_expires_at = now() + make_interval(secs => lease_seconds),
           error_code = null,
           error_message = null
     where a.id = any(message_ids)
       and a.message_type = 'assistant'
       and a.status in ('pending', 'streaming')
       and coalesce(a.lease_expires_at, '-infinity') <= now()
    returning a.id, a.reply_to, a.attempts, a.answer_no
  )
  select public.worker_claim_context(c.id, c.reply_to, c.attempts, c.answer_no, history_limit, null, null)
    from claimed c;
end;
$$;
