-- An answer that continued a /v1 request's words (Qwen's partial mode, 20261206142000) is read back
-- in its session's later histories as the assistant said it: those words, then the answer. The
-- answer's row holds the continuation only (what /v1 returns, as OpenAI clients expect, and what was
-- billed as output), so the walk gave the model's next turn a reply cut of its first words (a
-- prefilled '{"name": "' and a reply that no longer parses, a sentence without its start).
-- The walk now puts the question's `prefix` (question_contexts.parameters) before the content of
-- a completed answer to it: one more primary-key probe (question_contexts) per assistant message
-- walked, none for a user message (the gate is on the row's own type); the kept history of a
-- worker (worker/histories.py) holds what the walk gave, so it is whole as well.
--
-- worker_claim_contexts is 20261206110010_a_disabled_accounts_queued_questions_are_not_answered.sql's
-- with that one change, in both steps of `up`.

create or replace function public.worker_claim_contexts(
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
           s.thinking, s.history_epoch, s.role_id as session_role, ctx.messages as context,
           ctx.parameters,
           case when s.history_epoch = k.epoch then k.tip end as resume_at
      from unnest(answer_ids, question_ids, attempts, numbers, tips, known_epochs)
             as k(answer_id, question_id, attempt, number, tip, epoch)
      cross join lateral (select q.* from public.chat_messages q where q.id = k.question_id limit 1) q
      cross join lateral (select s.* from public.chat_sessions s where s.id = q.session_id limit 1) s
      left join lateral (select c.messages, c.parameters from public.question_contexts c
                          where c.message_id = q.id limit 1) ctx on true
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
      cross join lateral (select m.id, m.parent_id, m.message_type, m.status,
                                 coalesce(px.prefix, '') || m.content as content, m.attachments
                            from public.chat_messages m
                            left join lateral (select c.parameters ->> 'prefix' as prefix
                                                 from public.question_contexts c
                                                where m.message_type = 'assistant' and c.message_id = m.parent_id
                                                limit 1) px on true
                           where m.id = a.parent_id limit 1) m
      left join refused r on r.session_id = a.session_id
      cross join lateral (
        select (m.message_type = 'user' or (m.message_type = 'assistant' and m.status = 'completed'))
               and not coalesce(m.id = any (r.ids), false) as kept) k
     where history_limit > 0
    union all
    select u.question_id, u.resume_at, u.refused, m.id, m.parent_id, m.message_type, m.status, m.content,
           m.attachments, u.depth + 1, k.kept, u.found + k.kept::int, u.message_type
      from up u
      cross join lateral (select m.id, m.parent_id, m.message_type, m.status,
                                 coalesce(px.prefix, '') || m.content as content, m.attachments
                            from public.chat_messages m
                            left join lateral (select c.parameters ->> 'prefix' as prefix
                                                 from public.question_contexts c
                                                where m.message_type = 'assistant' and c.message_id = m.parent_id
                                                limit 1) px on true
                           where m.id = u.parent_id limit 1) m
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
                         or (u.message_type = 'user' and u.below = 'user'))) as settled,
           min(u.id::text) filter (where u.kept and u.parent_id is null and u.message_type = 'user') as root_id
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
           'context', a.context,
           'parameters', a.parameters,
           'role', case when a.context is null or a.role_id is not null then (
             select json_build_object('slug', r.slug, 'system_prompt', r.system_prompt,
                                      'personality', r.personality)
               from public.ai_roles r
              where r.is_active
                and ((r.slug = a.role_id and (r.created_by is null or r.created_by = a.user_id))
                     or r.id = a.session_role
                     or (r.slug = 'assistant' and r.created_by is null))
              order by case when r.slug = a.role_id then 0 when r.id = a.session_role then 1 else 2 end
              limit 1) end,
           'resumed_at', w.resumed_at,
           'root', case when w.root_id is not null and a.context is null then (
             select json_build_object('id', c.message_id, 'context', c.messages)
               from public.question_contexts c
              where c.message_id = w.root_id::uuid and c.messages is not null) end,
           'settled', coalesce(w.settled, true),
           -- the plan of an admitted answer (its ledger row), as it is now, and whether its account
           -- is disabled; null when none was admitted (inserted by a trusted role)
           'plan', (select json_build_object('models', p.models, 'thinking', p.allow_thinking,
                                             'search', p.allow_search, 'disabled', u.disabled)
                      from public.usage_ledger l
                      join public.user_plans u on u.user_id = l.user_id
                      join public.plans p on p.id = u.plan_id
                     where l.message_id = case when a.number = 1 then a.question_id else a.answer_id end
                       and l.user_id = a.user_id)),
         coalesce(w.ids, '{}'), coalesce(w.types, '{}'), coalesce(w.contents, '{}'), coalesce(w.depths, '{}'),
         coalesce(w.files, '{}')
    from asked a
    left join walks w on w.question_id = a.question_id;
end;
$$;
