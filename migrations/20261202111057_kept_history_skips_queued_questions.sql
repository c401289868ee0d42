-- Moves no longer count in chat_sessions.history_epoch (20261202104157_claim_resumes_kept_history.sql);
-- instead no history is kept whose path holds a question right below a question.
--
-- A question sent before the one above it had an answer sits under that question until the claim
-- of the one above moves it under the new answer (worker_claim). Counting each move bumped the
-- session's epoch in every such claim: in a burst of queued questions (bench/worker_bench.py's
-- throughput) that was one more update of the session row per turn, and no history could be
-- resumed anyway. A move only ever changes a question whose parent is a question, and a history
-- whose walk met such a pair (the claimed question counts as the one below its parent) is now
-- reported not `settled`, so the worker keeps none: what a move changes was never kept.
--
-- parent_id changes otherwise only when messages are deleted (chat_messages_splice), which counts
-- already. Any other change of parent_id (none in this code; an operator's edit) must bump
-- history_epoch too, or restart the workers.

drop trigger chat_messages_history_changed on public.chat_messages;

create trigger chat_messages_history_changed
  after update of status, content, attachments on public.chat_messages
  for each row
  when ((new.status = 'error' and new.error_code = 'ContentFiltered' and old.status <> 'error')
        or ((old.message_type = 'user' or old.status not in ('pending', 'streaming'))
            and (old.content is distinct from new.content or old.attachments is distinct from new.attachments)))
  execute function public.chat_messages_history_changed();

-- The claim's context as 20261202104157_claim_resumes_kept_history.sql defines it, with `settled`
-- false also for a question right below a question (`below`: the type of the message under each
-- one on the path; under the nearest, the claimed question).
create or replace function public.worker_claim_context(
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
               'settled', (select coalesce(bool_and(not ((w.message_type = 'assistant' and w.status in ('pending', 'streaming'))
                                                      or (w.message_type = 'user' and w.below = 'user'))), true)
                             from (select w.message_type, w.status,
                                          coalesce(lag(w.message_type) over (order by w.depth), 'user') as below
                                     from walked w) w)) as result
    ) walk
   where q.id = question_id);
end;
$$;
