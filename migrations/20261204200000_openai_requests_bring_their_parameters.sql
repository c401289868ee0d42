-- An OpenAI-compatible request's sampling parameters reach the model (temperature, top_p,
-- max_tokens, stop, seed, presence_penalty): they were accepted and ignored, so a client asking
-- for `max_tokens: 50` got, and paid for, an answer of the model's full length.
--
-- They are kept per request in `question_contexts.parameters` (over the role's settings, which they
-- override key by key), so `question_contexts` now holds a row for every /v1 request: `messages`
-- is null for a request that names its session (its history is that session's, as before).
-- Checked here whatever the door: only those six keys, each of its type and in DashScope's range.
-- The claim hands them back beside the context.

create or replace function public.question_parameters_valid(parameters jsonb) returns boolean
language plpgsql
immutable
set search_path = ''
as $$
declare
  item record;
  n numeric;
  fits boolean;
begin
  if jsonb_typeof(parameters) <> 'object' then
    return false;
  end if;
  for item in select key, value from jsonb_each(parameters) loop
    if item.key = 'stop' then
      if jsonb_typeof(item.value) = 'string' then
        continue;
      end if;
      if jsonb_typeof(item.value) <> 'array' or jsonb_array_length(item.value) > 4
         or exists (select 1 from jsonb_array_elements(item.value) s where jsonb_typeof(s) <> 'string') then
        return false;
      end if;
      continue;
    end if;
    if jsonb_typeof(item.value) <> 'number' then
      return false;
    end if;
    n := (item.value #>> '{}')::numeric;
    fits := case item.key
              when 'temperature' then n >= 0 and n < 2
              when 'top_p' then n > 0 and n <= 1
              when 'presence_penalty' then n >= -2 and n <= 2
              when 'max_tokens' then n >= 1 and n <= 1000000 and n = trunc(n)
              when 'seed' then n >= 0 and n <= 9223372036854775807 and n = trunc(n)
              else false
            end;
    if not fits then
      return false;
    end if;
  end loop;
  return true;
end;
$$;

alter table public.question_contexts
  alter column messages drop not null,
  add column parameters jsonb not null default '{}' check (public.question_parameters_valid(parameters));

grant insert (parameters) on public.question_contexts to authenticated;
grant select (parameters) on public.question_contexts to authenticated;

-- `context` null and `parameters` empty: no row (the question continues its session with the
-- role's settings, as a question of the web app).
drop function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb);
create function public.api_open_turn(
  question_id uuid, question text, model_id text, role_ref text, role_by_id boolean, named_session uuid,
  key_id uuid, key_name text, day date, context jsonb default null, parameters jsonb default '{}'
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
  end if;
  if context is not null or coalesce(parameters, '{}') <> '{}' then
    insert into public.question_contexts (message_id, messages, parameters)
    values (question_id, context, coalesce(parameters, '{}'));
  end if;
  return sid;
end;
$$;

revoke execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb)
  from public, anon;
grant execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb)
  to authenticated;

-- The claim hands back the request's parameters beside its context (null for every question but a
-- /v1 request's); otherwise as in 20261204190000_openai_requests_bring_their_context.sql.
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
           'settled', coalesce(w.settled, true)),
         coalesce(w.ids, '{}'), coalesce(w.types, '{}'), coalesce(w.contents, '{}'), coalesce(w.depths, '{}'),
         coalesce(w.files, '{}')
    from asked a
    left join walks w on w.question_id = a.question_id;
end;
$$;
