-- 20261201204735_worker_calls_plan_once.sql turned the claim's context and the row flush into
-- PL/pgSQL (planned once per connection instead of on every call) but started from the
-- definitions before 20261201204027_reasoning_streams_into_the_row.sql (reasoning written as it
-- streams) and 20261201204335_history_carries_attachments.sql (earlier questions' attachments in
-- the history), which landed while it was being written, and so undid them. These are those two
-- definitions, unchanged but for the language: PL/pgSQL, the same bodies.

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
                        and not exists (select 1 from public.chat_messages x
                                         where x.reply_to = up.id and x.status = 'error'
                                           and x.error_code = 'ContentFiltered')
                      order by up.depth
                      limit greatest(history_limit, 0)) h))
    from public.chat_messages q
    join public.chat_sessions s on s.id = q.session_id
   where q.id = question_id);
end;
$$;

create or replace function public.worker_flush(worker text, lease_seconds double precision, updates jsonb)
returns table (id uuid, cancel_requested boolean)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  return query
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
    from jsonb_to_recordset(updates) as u(
           id uuid, kind text, known integer, delta text, content text, status public.message_status,
           model text, input_tokens integer, output_tokens integer, response_time integer,
           finish_reason text, error_code text, error_message text, reasoning text, reasoning_ms integer,
           reasoning_tokens integer, cached_tokens integer, search_calls integer, sources jsonb,
           image_tokens integer, rknown integer, rdelta text)
   where m.id = u.id
     and m.message_type = 'assistant'
     and m.lease_owner = worker
     and m.status in ('pending', 'streaming')
     and u.kind in ('progress', 'finish', 'release')
     and (u.kind <> 'finish' or u.status in ('completed', 'error', 'cancelled'))
  returning m.id, m.cancel_requested;
end;
$$;
