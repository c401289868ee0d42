-- Walking up a conversation tree is one primary-key lookup per step. Written as a join, the
-- recursive step let the planner hash-join the whole chat_messages table at every step when its
-- estimates were off (a 200-message path took 55 ms on 200 rows instead of 1.6 ms; at a million
-- rows it would scan them all 200 times). A LATERAL subquery with LIMIT 1 cannot be flattened into
-- a join, so each step is an index lookup whatever the statistics say. chat_forks reads a
-- message's siblings through the parent index or the session's roots index, one branch each,
-- instead of an OR that neither index serves.
--
-- chat_path, chat_forks and chat_branch start from 20261201180531_conversation_trees.sql, worker_claim_context
-- from 20261201183237_attachments_in_answers.sql (the current definitions); only the walk changes.

create or replace function public.chat_path(session_id uuid) returns setof public.chat_messages
language sql
stable
set search_path = ''
as $$
  with recursive leaf as (
    select public.chat_descend(coalesce(
             s.current_leaf_id,
             (select m.id from public.chat_messages m where m.session_id = s.id
               order by m.created_at desc, m.id desc limit 1))) as id
      from public.chat_sessions s
     where s.id = chat_path.session_id
  ), up(msg, depth) as (
    select m, 0 from public.chat_messages m join leaf on m.id = leaf.id
    union all
    select p.m, u.depth + 1
      from up u
      cross join lateral (select m from public.chat_messages m where m.id = (u.msg).parent_id limit 1) p
  )
  select (u.msg).* from up u order by u.depth desc
$$;

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
             with recursive up(id, parent_id, message_type, status, content, depth) as (
               select m.id, m.parent_id, m.message_type, m.status, m.content, 1
                 from public.chat_messages m
                where m.id = q.parent_id and history_limit > 0
               union all
               select p.id, p.parent_id, p.message_type, p.status, p.content, u.depth + 1
                 from up u
                 cross join lateral (select m.id, m.parent_id, m.message_type, m.status, m.content
                                       from public.chat_messages m where m.id = u.parent_id limit 1) p
                where u.depth <= 2 * history_limit
             )
             select coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'type', h.message_type, 'content', h.content)
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

create or replace function public.chat_branch(message uuid) returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  target public.chat_messages;
  origin public.chat_sessions;
  fresh uuid;
begin
  select * into target from public.chat_messages m where m.id = chat_branch.message and m.user_id = auth.uid();
  if not found then
    raise exception 'MessageNotFound: no such message' using errcode = 'PT404';
  end if;
  select * into origin from public.chat_sessions s where s.id = target.session_id;
  insert into public.chat_sessions (user_id, role_id, title)
  values (origin.user_id, origin.role_id, origin.title)
  returning id into fresh;
  with recursive up(msg, depth) as (
    select m, 0 from public.chat_messages m
     where m.id = case when target.message_type = 'assistant' then target.id else target.parent_id end
    union all
    select p.m, u.depth + 1
      from up u
      cross join lateral (select m from public.chat_messages m where m.id = (u.msg).parent_id limit 1) p
  ), copied as (
    select (u.msg).*, u.depth, gen_random_uuid() as copy_id from up u
  )
  insert into public.chat_messages
    (id, session_id, user_id, message_type, content, role_id, status, reply_to, answer_no, parent_id, model,
     input_tokens, output_tokens, tokens_used, response_time, finish_reason, error_code, error_message,
     attempts, created_at)
  select c.copy_id, fresh, c.user_id, c.message_type, c.content, c.role_id,
         case when c.status in ('pending', 'streaming') then 'cancelled'::public.message_status else c.status end,
         r.copy_id, case when c.message_type = 'assistant' then 1 end, p.copy_id, c.model,
         c.input_tokens, c.output_tokens, c.tokens_used, c.response_time, c.finish_reason, c.error_code,
         c.error_message, c.attempts, c.created_at
    from copied c
    left join copied p on p.id = c.parent_id
    left join copied r on r.id = c.reply_to
   order by c.depth desc;
  return fresh;
end;
$$;

create or replace function public.chat_forks(session_id uuid)
returns table (message_id uuid, siblings uuid[])
language sql
stable
set search_path = ''
as $$
  select p.id, f.ids
    from public.chat_path(chat_forks.session_id) p
    cross join lateral (
      select array_agg(c.id order by c.created_at, c.id) as ids
        from (select c.id, c.created_at from public.chat_messages c
               where p.parent_id is not null and c.parent_id = p.parent_id
              union all
              select c.id, c.created_at from public.chat_messages c
               where p.parent_id is null and c.session_id = p.session_id and c.parent_id is null) c
    ) f
   where cardinality(f.ids) > 1
$$;
