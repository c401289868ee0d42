-- A claim can resume the history a worker kept from the session's previous turn instead of walking
-- the whole path again (worker/histories.py).
--
-- Each claim walked up to 2 x WORKER_HISTORY_LIMIT + 1 messages of the question's path, one index
-- lookup each, and built them into JSON the worker decoded again (~0.4-0.6 ms of Postgres's time
-- a turn at 50 messages of history, most of the claim's), though the worker had read all but the
-- last two of them one turn before. Now the worker may name, for each question, the question whose
-- history it kept (`tips`) and the session's `history_epoch` it read then (`epochs`). The walk
-- stops at that question when the epoch is unchanged, and reports the depth it stopped at
-- (`resumed_at`); the worker puts its kept history below.
--
-- `chat_sessions.history_epoch` counts the changes that can alter a path the worker has read:
-- - a message of the session deleted (its children move up: chat_messages_splice),
-- - a message moved (parent_id changed: worker_claim's follow-ups moving under their answer),
-- - an answer refused (ContentFiltered: its question leaves every later history),
-- - the content or files of a message in a final state changed (only service_role can).
-- An answer that was still pending or streaming when the path was read can become completed and
-- so join later histories without any of these: the claim reports `settled` = false for a walk that
-- met one, and the worker keeps no such history. Nor does it keep one with files: their ETags are
-- read in every claim (20261202052752_claim_knows_stored_files.sql).

alter table public.chat_sessions add column history_epoch bigint not null default 0;

comment on column public.chat_sessions.history_epoch is
  'Counts deletions, moves, refusals and edits of final messages in the session: a history read at one epoch holds at that epoch (worker_claim).';

-- Deletions: the statement-level trigger that already updates the session's counters.
create or replace function public.chat_sessions_count_deleted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.chat_sessions s
     set message_count = greatest(s.message_count - d.cnt, 0),
         last_message_at = (select max(m.created_at) from public.chat_messages m where m.session_id = s.id),
         history_epoch = s.history_epoch + 1
    from (select session_id, count(*)::int as cnt from deleted group by session_id) d
   where s.id = d.session_id;
  return null;
end;
$$;

-- Moves, refusals and edits: a row trigger whose WHEN clause is false for everything a turn
-- writes (a streaming answer's content, its status becoming final), so no event is even queued
-- on the turn's path.
create or replace function public.chat_messages_history_changed() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.chat_sessions s set history_epoch = s.history_epoch + 1 where s.id = new.session_id;
  return null;
end;
$$;

revoke execute on function public.chat_messages_history_changed() from public, anon, authenticated;

create trigger chat_messages_history_changed
  after update of parent_id, status, content, attachments on public.chat_messages
  for each row
  when (old.parent_id is distinct from new.parent_id
        or (new.status = 'error' and new.error_code = 'ContentFiltered' and old.status <> 'error')
        or ((old.message_type = 'user' or old.status not in ('pending', 'streaming'))
            and (old.content is distinct from new.content or old.attachments is distinct from new.attachments)))
  execute function public.chat_messages_history_changed();

-- The claim, as 20261201180531_conversation_trees.sql defines it, with each question's kept
-- history named: `tips[i]` and `epochs[i]` go with `message_ids[i]` (null: none kept). Callers
-- that pass neither (the five-argument call) get the whole walk, as before.
drop function public.worker_claim(uuid[], text, double precision, integer, integer);

create function public.worker_claim(
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
    select k.id, k.tip, k.epoch
      from unnest(message_ids, tips, epochs) as k(id, tip, epoch)
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

revoke execute on function public.worker_claim(uuid[], text, double precision, integer, integer, uuid[], bigint[])
  from public, anon, authenticated;
grant execute on function public.worker_claim(uuid[], text, double precision, integer, integer, uuid[], bigint[])
  to service_role;

-- The claim's context, as 20261202052752_claim_knows_stored_files.sql defines it, with the walk
-- stopping at `tip` when the session's epoch is still `known_epoch`. Each history item carries its
-- depth on the path (1: the question's parent), counting the messages left out too, so the worker
-- cuts the joined history exactly where the whole walk would have.
drop function public.worker_claim_context(uuid, uuid, integer, integer, integer);

create function public.worker_claim_context(
  answer_id uuid, question_id uuid, attempt integer, number integer, history_limit integer,
  tip uuid, known_epoch bigint
) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return (select jsonb_build_object(
           'id', answer_id,
           'reply_to', q.id,
           'attempts', attempt,
           'answer_no', number,
           'session_id', q.session_id,
           'user_id', q.user_id,
           'question', q.content,
           'web_search', q.web_search,
           'model', q.model,
           'attachments', public.worker_files_stored(q.attachments),
           'session', jsonb_build_object('model', s.model, 'thinking', s.thinking),
           'epoch', s.history_epoch,
           'role', (
             select jsonb_build_object('slug', r.slug, 'system_prompt', r.system_prompt,
                                       'personality', r.personality)
               from public.ai_roles r
              where r.is_active
                and ((r.slug = q.role_id and (r.created_by is null or r.created_by = q.user_id))
                     or r.id = s.role_id
                     or (r.slug = 'assistant' and r.created_by is null))
              order by case when r.slug = q.role_id then 0 when r.id = s.role_id then 1 else 2 end
              limit 1)
         ) || walk.result
    from public.chat_messages q
    join public.chat_sessions s on s.id = q.session_id
    cross join lateral (
      with recursive up(id, parent_id, message_type, status, content, attachments, depth) as (
        select m.id, m.parent_id, m.message_type, m.status, m.content, m.attachments, 1
          from public.chat_messages m
         where m.id = q.parent_id and history_limit > 0
        union all
        select p.id, p.parent_id, p.message_type, p.status, p.content, p.attachments, u.depth + 1
          from up u
          cross join lateral (select m.id, m.parent_id, m.message_type, m.status, m.content, m.attachments
                                from public.chat_messages m where m.id = u.parent_id limit 1) p
         where u.depth <= 2 * history_limit
           and (u.id <> tip or s.history_epoch is distinct from known_epoch or tip is null)
      ), walked as materialized (
        select * from up
      )
      select jsonb_build_object(
               'history', (
                 select coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'type', h.message_type,
                                                              'content', h.content, 'depth', h.depth)
                                           || case when h.attachments <> '[]'::jsonb
                                                   then jsonb_build_object('attachments', public.worker_files_stored(h.attachments))
                                                   else '{}'::jsonb end
                                           order by h.depth), '[]'::jsonb)
                   from (select * from walked w
                          where (w.message_type = 'user'
                                 or (w.message_type = 'assistant' and w.status = 'completed'))
                            and w.id <> all (array(select x.reply_to from public.chat_messages x
                                                    where x.session_id = q.session_id and x.status = 'error'
                                                      and x.error_code = 'ContentFiltered'))
                          order by w.depth
                          limit greatest(history_limit, 0)) h),
               'resumed_at', (select w.depth from walked w
                               where w.id = tip and s.history_epoch = known_epoch),
               'settled', (select coalesce(bool_and(w.message_type = 'user' or w.status not in ('pending', 'streaming')), true)
                             from walked w)) as result
    ) walk
   where q.id = question_id);
end;
$$;

revoke execute on function public.worker_claim_context(uuid, uuid, integer, integer, integer, uuid, bigint)
  from public, anon, authenticated;
grant execute on function public.worker_claim_context(uuid, uuid, integer, integer, integer, uuid, bigint)
  to service_role;
