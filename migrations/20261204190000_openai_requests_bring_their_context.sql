-- An OpenAI-compatible request is answered from the messages it sends, as OpenAI's API is.
--
-- Before, `/v1/chat/completions` stored the request's last user message in the key's session of the
-- day and the worker answered it from that session's stored path: the request's system message and
-- earlier turns never reached the model, and every earlier request of the day did. Two unrelated
-- calls of one script (translate this, then classify that) saw each other, and each call's input,
-- and its charge, grew through the day.
--
-- Now a request without `X-ChatGalaxy-Session` stores its question as a root of its own in the
-- day's session (`parent_id` null: nothing stored lies above it) and the messages before it in
-- `question_contexts`, which the worker's claim hands back as the question's history. A request
-- that names a session still continues that stored conversation, as before.
--
-- Guarantees:
--   * A context is the question's owner's alone: RLS for every verb; it is written with its question
--     in one transaction (`api_open_turn`), never changed, and deleted with the question.
--   * Its shape is checked here, whatever door wrote it: an array of at most 1,000
--     {role: system|user|assistant, content: string} objects, 1,048,576 characters of content at most.
--   * The claim gives the context (`worker_claim_contexts`), and for a question that names no role,
--     no role either: the request's own system messages are the system prompt (OpenAI's meaning),
--     not the session's persona. A question that names one (`model: "role:<slug>"`) keeps it, the
--     request's system messages after the role's prompt.

create or replace function public.question_context_valid(messages jsonb) returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
  item jsonb;
  total bigint := 0;
begin
  if jsonb_typeof(messages) <> 'array' or jsonb_array_length(messages) > 1000 then
    return false;
  end if;
  for item in select e from jsonb_array_elements(messages) as e loop
    if jsonb_typeof(item) <> 'object'
       or (select count(*) from jsonb_object_keys(item)) <> 2
       or jsonb_typeof(item -> 'role') is distinct from 'string'
       or (item ->> 'role') not in ('system', 'user', 'assistant')
       or jsonb_typeof(item -> 'content') is distinct from 'string' then
      return false;
    end if;
    total := total + char_length(item ->> 'content');
  end loop;
  return total <= 1048576;
end;
$$;

create table public.question_contexts (
  message_id uuid primary key references public.chat_messages (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  messages jsonb not null check (public.question_context_valid(messages)),
  created_at timestamptz not null default now()
);
create index question_contexts_user_idx on public.question_contexts (user_id);

alter table public.question_contexts enable row level security;

create policy "question_contexts: owner reads" on public.question_contexts
  for select to authenticated using (user_id = (select auth.uid()));
-- Only for a question of the caller's own.
create policy "question_contexts: owner adds to own question" on public.question_contexts
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and exists (select 1 from public.chat_messages m
                 where m.id = message_id and m.user_id = (select auth.uid()) and m.message_type = 'user')
  );
create policy "question_contexts: two-factor users need aal2" on public.question_contexts
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
-- No update or delete policy (and no such grant): a context never changes, and goes with its question.

revoke all on public.question_contexts from anon, authenticated;
grant select (message_id, user_id, messages, created_at) on public.question_contexts to authenticated;
grant insert (message_id, messages) on public.question_contexts to authenticated;
grant all on public.question_contexts to service_role;

-- The request's messages before its question (`context`, null for a request that names its session).
drop function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date);
create function public.api_open_turn(
  question_id uuid, question text, model_id text, role_ref text, role_by_id boolean, named_session uuid,
  key_id uuid, key_name text, day date, context jsonb default null
) returns uuid
language plpgsql
volatile
security invoker
set search_path = ''
as $$
declare
  stored_role text;
  sid uuid;
begin
  if role_ref is not null then
    if role_by_id then
      select r.slug into stored_role from public.ai_roles r where r.id = role_ref::uuid limit 1;
    else
      select r.slug into stored_role from public.ai_roles r where r.slug = role_ref limit 1;
    end if;
    if stored_role is null then
      raise exception using errcode = 'P0002', message = 'model_not_found';
    end if;
  elsif not exists (select 1 from public.models m where m.id = model_id) then
    raise exception using errcode = 'P0002', message = 'model_not_found';
  end if;
  if named_session is not null then
    select s.id into sid from public.chat_sessions s where s.id = named_session;
    if sid is null then
      raise exception using errcode = 'P0002', message = 'session_not_found';
    end if;
  else
    select s.id into sid from public.chat_sessions s where s.api_key_id = key_id and s.api_day = day;
    if sid is null then
      insert into public.chat_sessions (title, api_key_id, api_day)
      values (left('API · ' || key_name || ' · ' || day::text, 200), key_id, day)
      on conflict (api_key_id, api_day) do nothing
      returning id into sid;
      if sid is null then -- a concurrent request of the same key opened it first
        select s.id into sid from public.chat_sessions s where s.api_key_id = key_id and s.api_day = day;
      end if;
    end if;
  end if;
  if context is null then
    insert into public.chat_messages (id, session_id, message_type, content, role_id, model)
    values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end);
  else
    insert into public.chat_messages (id, session_id, message_type, content, role_id, model, parent_id)
    values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end, null);
    insert into public.question_contexts (message_id, messages) values (question_id, context);
  end if;
  return sid;
end;
$$;

revoke execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb)
  from public, anon;
grant execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb)
  to authenticated;

-- The claim hands back each question's context (null for every question but such a request's) and,
-- for a question with a context that names no role, no role. One index probe per claimed question;
-- otherwise worker_claim_contexts is unchanged (20261203093000_claims_walk_together.sql).
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
           case when s.history_epoch = k.epoch then k.tip end as resume_at
      from unnest(answer_ids, question_ids, attempts, numbers, tips, known_epochs)
             as k(answer_id, question_id, attempt, number, tip, epoch)
      cross join lateral (select q.* from public.chat_messages q where q.id = k.question_id limit 1) q
      cross join lateral (select s.* from public.chat_sessions s where s.id = q.session_id limit 1) s
      left join lateral (select c.messages from public.question_contexts c where c.message_id = q.id limit 1) ctx
        on true
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
           'context', a.context,
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
           'settled', coalesce(w.settled, true)),
         coalesce(w.ids, '{}'), coalesce(w.types, '{}'), coalesce(w.contents, '{}'), coalesce(w.depths, '{}'),
         coalesce(w.files, '{}')
    from asked a
    left join walks w on w.question_id = a.question_id;
end;
$$;
