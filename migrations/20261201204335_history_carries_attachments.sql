-- The claim's history carries each earlier question's attachments (issue 13), so a follow-up ("what
-- does section 2 say?") is answered with the document (and, on a vision model, the image) asked about
-- before: worker/attachments.py reads them and worker/turn.py puts them back on those earlier
-- questions exactly as they were first sent, so the prompt's prefix stays byte-identical.
--
-- worker_claim_context as 20261201192718_claim_walk_by_index.sql defines it (one index lookup per
-- step of the walk), with `attachments` walked along and added to a user item only when it has any,
-- so the claim of a session without files is the same bytes as before.

create or replace function public.worker_claim_context(
  answer_id uuid, question_id uuid, attempt integer, number integer, history_limit integer
) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
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
                        and not exists (select 1 from public.chat_messages x
                                         where x.reply_to = up.id and x.status = 'error'
                                           and x.error_code = 'ContentFiltered')
                      order by up.depth
                      limit greatest(history_limit, 0)) h))
    from public.chat_messages q
    join public.chat_sessions s on s.id = q.session_id
   where q.id = question_id
$$;
