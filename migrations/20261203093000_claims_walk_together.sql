-- One claim round walks the histories of all its questions together, and hands each back as
-- arrays, not JSON.
--
-- In a burst of queued questions (bench/worker_bench.py's throughput) no history can be kept, so
-- every claim walks its question's path, and worker_claim_context, called once per question, was
-- ~38 % of Postgres's time in that burst: a recursive walk per question (its executor started
-- and rescanned ~100 times) and a JSON object built per history item (json_build_object looks up
-- each argument's type and output function on every call). Measured on 600 claimed questions with
-- 50-item histories (20 sessions, 30 queued questions each): the walks alone 450 µs a question
-- one by one, 65 µs together; the items as JSON objects ~3.3 µs each, as arrays ~1.6 µs (decoded
-- by asyncpg, in C, into lists of strings, which the worker's garbage collector never scans: one
-- record object per item made it collect dozens of times a round). The whole claim of the 600:
-- 690-770 ms before, 300-380 after.
--
-- - worker_claim_contexts: the contexts of many claimed answers at once, one row each: the claim
--   as JSON (as before, without its history) and the history, nearest first, as parallel arrays:
--   each item's id, type, content, depth (messages up the path; the question's parent is 1) and
--   files (an earlier question's, as worker_files_stored gives them; null when none). PL/pgSQL,
--   so its plan is kept for the session (20261201204735_worker_calls_plan_once.sql), and always
--   the generic plan: the custom plan of one question looks cheaper than the generic one, so the
--   plan cache would plan it again on every call (~1.4 ms, three times the call itself).
-- - The walk counts the items it keeps (user messages and completed answers, not a refused
--   question) and stops at the `history_limit`-th: the whole walk went on to 2 x `history_limit` + 1
--   messages and threw away what lay below. The history is the same. `settled` is judged on the
--   walked part, which is all of what is kept (what lies deeper never enters a later history
--   without a delete, and deletes move the epoch); `resumed_at` is null when the tip lies below
--   the last kept item, where the kept history had nothing left to add.
-- - The claim is JSON built as json, not jsonb: read once, as text, by the worker.
-- - worker_claim returns the same rows; otherwise unchanged. A function's result type
--   changes only by drop and create.

drop function public.worker_claim(uuid[], text, double precision, integer, integer, uuid[], bigint[]);
drop function public.worker_claim_context(uuid, uuid, integer, integer, integer, uuid, bigint);

-- `tips[i]`, `known_epochs[i]`: the history the worker kept for question i's session (its last
-- claimed question, and the session's history_epoch then), or nulls. The walk of question i stops
-- at its tip when the epoch still holds, and `resumed_at` tells the tip's depth.
create function public.worker_claim_contexts(
  answer_ids uuid[], question_ids uuid[], attempts integer[], numbers integer[], history_limit integer,
  tips uuid[], known_epochs bigint[]
) returns table (claim json, ids uuid[], types text[], contents text[], depths integer[], files jsonb[])
language plpgsql
stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
begin
  return query
  -- Every lookup of a message or a session is one index probe per row (a lateral subquery with
  -- `limit 1` is never turned into a join): a join let the planner hash the whole chat_messages
  -- table, at every step of the walk (20261201192718_claim_walk_by_index.sql).
  with recursive asked as (
    select k.answer_id, k.attempt, k.number, q.id as question_id, q.session_id, q.user_id, q.content,
           q.web_search, q.model, q.attachments, q.role_id, q.parent_id, s.model as session_model,
           s.thinking, s.history_epoch, s.role_id as session_role,
           case when s.history_epoch = k.epoch then k.tip end as resume_at
      from unnest(answer_ids, question_ids, attempts, numbers, tips, known_epochs)
             as k(answer_id, question_id, attempt, number, tip, epoch)
      cross join lateral (select q.* from public.chat_messages q where q.id = k.question_id limit 1) q
      cross join lateral (select s.* from public.chat_sessions s where s.id = q.session_id limit 1) s
  ), refused as (
    -- questions whose answer was refused by the moderation: never in a history
    select x.session_id, array_agg(x.reply_to) as ids
      from public.chat_messages x
     where x.session_id in (select a.session_id from asked a)
       and x.status = 'error' and x.error_code = 'ContentFiltered'
     group by x.session_id
  ), up(question_id, resume_at, refused, id, parent_id, message_type, status, content, attachments,
        depth, kept, found, below) as (
    -- `kept`: the message goes into the history; `found`: how many do so far, this one included;
    -- `below`: the type of the message under it on the path (under the nearest, the question)
    select a.question_id, a.resume_at, r.ids, m.id, m.parent_id, m.message_type, m.status, m.content,
           m.attachments, 1, k.kept, k.kept::int, 'user'::public.message_type
      from asked a
      cross join lateral (select m.id, m.parent_id, m.message_type, m.status, m.content, m.attachments
                            from public.chat_messages m where m.id = a.parent_id limit 1) m
      left join refused r on r.session_id = a.session_id
      cross join lateral (
        select (m.message_type = 'user' or (m.message_type = 'assistant' and m.status = 'completed'))
               and not coalesce(m.id = any (r.ids), false) as kept) k
     where history_limit > 0
    union all
    select u.question_id, u.resume_at, u.refused, m.id, m.parent_id, m.message_type, m.status, m.content,
           m.attachments, u.depth + 1, k.kept, u.found + k.kept::int, u.message_type
      from up u
      cross join lateral (select m.id, m.parent_id, m.message_type, m.status, m.content, m.attachments
                            from public.chat_messages m where m.id = u.parent_id limit 1) m
      cross join lateral (
        select (m.message_type = 'user' or (m.message_type = 'assistant' and m.status = 'completed'))
               and not coalesce(m.id = any (u.refused), false) as kept) k
     where u.depth <= 2 * history_limit
       and u.found < history_limit
       and u.id is distinct from u.resume_at
  ), walks as (
    select u.question_id,
           array_agg(u.id order by u.depth) filter (where u.kept) as ids,
           array_agg(u.message_type::text order by u.depth) filter (where u.kept) as types,
           array_agg(u.content order by u.depth) filter (where u.kept) as contents,
           array_agg(u.depth order by u.depth) filter (where u.kept) as depths,
           array_agg(case when u.attachments <> '[]'::jsonb then public.worker_files_stored(u.attachments) end
                     order by u.depth) filter (where u.kept) as files,
           min(u.depth) filter (where u.id = u.resume_at) as resumed_at,
           bool_and(not ((u.message_type = 'assistant' and u.status in ('pending', 'streaming'))
                         or (u.message_type = 'user' and u.below = 'user'))) as settled
      from up u
     group by u.question_id
  )
  select json_build_object(
           'id', a.answer_id,
           'reply_to', a.question_id,
           'attempts', a.attempt,
           'answer_no', a.number,
           'session_id', a.session_id,
           'user_id', a.user_id,
           'question', a.content,
           'web_search', a.web_search,
           'model', a.model,
           'attachments', public.worker_files_stored(a.attachments),
           'session', json_build_object('model', a.session_model, 'thinking', a.thinking),
           'epoch', a.history_epoch,
           'role', (
             select json_build_object('slug', r.slug, 'system_prompt', r.system_prompt,
                                      'personality', r.personality)
               from public.ai_roles r
              where r.is_active
                and ((r.slug = a.role_id and (r.created_by is null or r.created_by = a.user_id))
                     or r.id = a.session_role
                     or (r.slug = 'assistant' and r.created_by is null))
              order by case when r.slug = a.role_id then 0 when r.id = a.session_role then 1 else 2 end
              limit 1),
           'resumed_at', w.resumed_at,
           'settled', coalesce(w.settled, true)),
         coalesce(w.ids, '{}'), coalesce(w.types, '{}'), coalesce(w.contents, '{}'), coalesce(w.depths, '{}'),
         coalesce(w.files, '{}')
    from asked a
    left join walks w on w.question_id = a.question_id;
end;
$$;

revoke execute on function public.worker_claim_contexts(uuid[], uuid[], integer[], integer[], integer, uuid[], bigint[])
  from public, anon, authenticated;
grant execute on function public.worker_claim_contexts(uuid[], uuid[], integer[], integer[], integer, uuid[], bigint[])
  to service_role;

create function public.worker_claim(
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
  select x.claim, x.ids, x.types, x.contents, x.depths, x.files
    from (select array_agg(c.id) as ids, array_agg(c.reply_to) as questions, array_agg(c.attempts) as attempts,
                 array_agg(c.answer_no) as numbers, array_agg(o.tip) as tips, array_agg(o.epoch) as epochs
            from claimed c
            left join offered o on o.id = c.reply_to) b
    cross join lateral public.worker_claim_contexts(b.ids, b.questions, b.attempts, b.numbers, history_limit,
                                                    b.tips, b.epochs) x;

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
  select x.claim, x.ids, x.types, x.contents, x.depths, x.files
    from (select array_agg(c.id) as ids, array_agg(c.reply_to) as questions, array_agg(c.attempts) as attempts,
                 array_agg(c.answer_no) as numbers
            from claimed c) b
    cross join lateral public.worker_claim_contexts(b.ids, b.questions, b.attempts, b.numbers, history_limit,
                                                    null, null) x;
end;
$$;

revoke execute on function public.worker_claim(uuid[], text, double precision, integer, integer, uuid[], bigint[])
  from public, anon, authenticated;
grant execute on function public.worker_claim(uuid[], text, double precision, integer, integer, uuid[], bigint[])
  to service_role;
