-- The claim's history leaves out every question the model refused (and its answer). It asked
-- "was this one refused?" once per message on the path, and the planner answered each with a scan
-- of the table whenever its statistics called the table small (a fresh or busy one): ~1 ms of a
-- 1.5 ms claim at 100 messages, growing with the table. Now the session's refused questions are
-- read once per claim, through an index that holds only refusals (almost always none).
-- Body otherwise unchanged from 20261201210122_reasoning_and_history_files_again.sql.

create index chat_messages_refused_idx on public.chat_messages (session_id)
  where status = 'error' and error_code = 'ContentFiltered';

create or replace function public.worker_claim_context(
  answer_id uuid, question_id uuid, attempt integer, number integer, history_limit integer
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
           'attachments', q.attachments,
           'session', jsonb_build_object('model', s.model, 'thinking', s.thinking),
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
             )
             select coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'type', h.message_type, 'content', h.content)
                                       || case when h.attachments <> '[]'::jsonb
                                               then jsonb_build_object('attachments', h.attachments)
                                               else '{}'::jsonb end
                                       order by h.depth), '[]'::jsonb)
               from (select * from up
                      where (up.message_type = 'user'
                             or (up.message_type = 'assistant' and up.status = 'completed'))
                        and up.id <> all (array(select x.reply_to from public.chat_messages x
                                                 where x.session_id = q.session_id and x.status = 'error'
                                                   and x.error_code = 'ContentFiltered'))
                      order by up.depth
                      limit greatest(history_limit, 0)) h))
    from public.chat_messages q
    join public.chat_sessions s on s.id = q.session_id
   where q.id = question_id);
end;
$$;
