-- Model choice, deep thinking, web search and moderation recovery (issue 13).
--
-- `models` is the one list of models the product offers, with their limits and capabilities;
-- signed-in users read the active ones (the web app's picker, GET /api/models), the worker sizes
-- prompts from it. A session may name a model and switch thinking on; a role may name a default
-- model and thinking in its personality, validated here so no door stores a setting the worker
-- would have to ignore. A question may ask for web search. An answer keeps its reasoning apart
-- from its content, with its duration and usage counted apart, and the sources it cites.

create table public.models (
  id text primary key check (id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
  display_name text not null check (char_length(btrim(display_name)) between 1 and 100),
  description text check (description is null or char_length(description) <= 500),
  context_window integer not null check (context_window > 0),
  max_input integer not null check (max_input > 0 and max_input <= context_window),
  max_output integer not null check (max_output > 0 and max_output <= context_window),
  supports_thinking boolean not null default false,   -- enable_thinking switch (hybrid models)
  supports_vision boolean not null default false,     -- images, on the multimodal endpoint
  supports_search boolean not null default false,     -- enable_search with sources
  supports_documents boolean not null default false,  -- document text in the prompt
  multimodal_endpoint boolean not null default false, -- answers only through MultiModalConversation
  is_active boolean not null default true,
  sort_order integer not null default 0
);

-- DashScope's published limits (docs: ../shared/specs/dashscope-features.md §A5); ids churn, so
-- operators edit this table (a later migration, or SQL on a hosted project), not code.
insert into public.models (id, display_name, description, context_window, max_input, max_output,
                           supports_thinking, supports_vision, supports_search, supports_documents,
                           multimodal_endpoint, sort_order) values
  ('qwen-turbo', 'Qwen Turbo', 'Fast and inexpensive', 131072, 98304, 16384, true, false, true, true, false, 1),
  ('qwen-flash', 'Qwen Flash', 'Fast, 1M context', 1000000, 997952, 32768, true, false, true, true, false, 2),
  ('qwen-plus', 'Qwen Plus', 'Balanced quality and speed', 1000000, 129024, 32768, true, false, true, true, false, 3),
  ('qwen3-max', 'Qwen3 Max', 'The strongest Qwen3 model', 262144, 258048, 65536, true, false, true, true, false, 4),
  ('qwen-vl-max', 'Qwen VL Max', 'Understands images', 131072, 129024, 8192, false, true, false, false, true, 5),
  ('qwen3-vl-plus', 'Qwen3 VL Plus', 'Images with deep thinking', 262144, 260096, 32768, true, true, false, false, true, 6);

alter table public.models enable row level security;

-- Signed-in users read the active models; only migrations and service_role change the list.
create policy "models: signed-in users read active" on public.models
  for select to authenticated using (is_active);
create policy "models: service_role manages" on public.models
  for all to service_role using (true) with check (true);
revoke all on public.models from anon, authenticated;
grant select on public.models to authenticated;

-- Sessions: the chosen model and thinking switch (null = the role's default, else the deployment's).
alter table public.chat_sessions
  add column model text references public.models (id) on update cascade on delete set null,
  add column thinking boolean;
grant insert (model, thinking) on public.chat_sessions to authenticated;
grant update (model, thinking) on public.chat_sessions to authenticated;

-- Messages: the question's web-search toggle; the answer's reasoning, its duration, its usage
-- details and its sources ([{index, title, url, site_name}], numbered as the answer cites them).
alter table public.chat_messages
  add column web_search boolean not null default false,
  add column reasoning text check (reasoning is null or char_length(reasoning) <= 200000),
  add column reasoning_ms integer check (reasoning_ms >= 0),
  add column reasoning_tokens integer check (reasoning_tokens >= 0),
  add column cached_tokens integer check (cached_tokens >= 0),
  add column search_calls integer check (search_calls >= 0),
  add column sources jsonb check (sources is null or jsonb_typeof(sources) = 'array'),
  add constraint chat_messages_answer_fields check (
    message_type = 'assistant'
    or (reasoning is null and reasoning_ms is null and reasoning_tokens is null and sources is null)),
  add constraint chat_messages_question_fields check (message_type = 'user' or not web_search);
grant insert (web_search) on public.chat_messages to authenticated;

-- A role's personality holds generation settings the worker honours; bad values are refused
-- with 22023 (PostgREST: 400) so the role editor, REST and the API all get the same answer.
create or replace function public.ai_roles_check_personality() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  p jsonb := new.personality;
  bad text;
begin
  bad := case
    when p ? 'model' and (jsonb_typeof(p->'model') <> 'string'
                          or not exists (select 1 from public.models m where m.id = p->>'model' and m.is_active))
      then 'model must be one of the offered models'
    when p ? 'temperature' and (jsonb_typeof(p->'temperature') <> 'number'
                                or (p->>'temperature')::numeric < 0 or (p->>'temperature')::numeric >= 2)
      then 'temperature must be a number in [0, 2)'
    when p ? 'top_p' and (jsonb_typeof(p->'top_p') <> 'number'
                          or (p->>'top_p')::numeric <= 0 or (p->>'top_p')::numeric > 1)
      then 'top_p must be a number in (0, 1]'
    when p ? 'max_tokens' and (jsonb_typeof(p->'max_tokens') <> 'number'
                               or (p->>'max_tokens')::numeric <> trunc((p->>'max_tokens')::numeric)
                               or (p->>'max_tokens')::numeric < 1 or (p->>'max_tokens')::numeric > 65536)
      then 'max_tokens must be an integer in [1, 65536]'
    when p ? 'thinking' and jsonb_typeof(p->'thinking') <> 'boolean'
      then 'thinking must be true or false'
    when p ? 'thinking_budget' and (jsonb_typeof(p->'thinking_budget') <> 'number'
                                    or (p->>'thinking_budget')::numeric <> trunc((p->>'thinking_budget')::numeric)
                                    or (p->>'thinking_budget')::numeric < 1)
      then 'thinking_budget must be a positive integer'
  end;
  if bad is not null then
    raise exception 'invalid personality: %', bad using errcode = '22023';
  end if;
  return new;
end;
$$;

create trigger ai_roles_check_personality before insert or update of personality on public.ai_roles
  for each row execute function public.ai_roles_check_personality();

-- The claim (from 20261124000600_worker_claims.sql) also returns the question's web_search and
-- the session's model and thinking, and leaves out of the history every question whose answer was
-- refused by content moderation (with its error row), so one refusal never poisons later turns.
-- Reasoning is never history: only `content` of completed answers is returned.
create or replace function public.worker_claim(
  message_ids uuid[],
  worker text,
  lease_seconds double precision,
  max_attempts integer,
  history_limit integer
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
   where a.reply_to = any(message_ids)
     and a.status in ('pending', 'streaming')
     and coalesce(a.lease_expires_at, '-infinity') <= now()
     and (a.cancel_requested or a.attempts >= max_attempts);

  return query
  with questions as (
    select q.id, q.session_id, q.user_id, q.role_id
      from public.chat_messages q
     where q.id = any(message_ids) and q.message_type = 'user'
     order by q.id
  ), claimed as (
    insert into public.chat_messages as a
      (session_id, user_id, message_type, content, role_id, status, reply_to,
       lease_owner, lease_expires_at, attempts)
    select q.session_id, q.user_id, 'assistant', '', q.role_id, 'pending', q.id,
           worker, now() + make_interval(secs => lease_seconds), 1
      from questions q
    on conflict (reply_to) do update
       set attempts = a.attempts + 1,
           status = 'pending',
           content = '',
           lease_owner = excluded.lease_owner,
           lease_expires_at = excluded.lease_expires_at,
           error_code = null,
           error_message = null
     where a.status in ('pending', 'streaming')
       and coalesce(a.lease_expires_at, '-infinity') <= now()
    returning a.id, a.reply_to, a.attempts
  )
  select jsonb_build_object(
           'id', c.id,
           'reply_to', c.reply_to,
           'attempts', c.attempts,
           'session_id', q.session_id,
           'user_id', q.user_id,
           'question', q.content,
           'web_search', q.web_search,
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
             select coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'type', h.message_type, 'content', h.content)
                                       order by h.created_at desc, h.id desc), '[]'::jsonb)
               from (select m.message_type, m.content, m.created_at, m.id
                       from public.chat_messages m
                      where m.session_id = q.session_id
                        and (m.created_at, m.id) < (q.created_at, q.id)
                        and (m.message_type = 'user'
                             or (m.message_type = 'assistant' and m.status = 'completed'))
                        and not exists (select 1 from public.chat_messages x
                                         where x.reply_to = m.id and x.status = 'error'
                                           and x.error_code = 'ContentFiltered')
                      order by m.created_at desc, m.id desc
                      limit greatest(history_limit, 0)) h))
    from claimed c
    join public.chat_messages q on q.id = c.reply_to
    join public.chat_sessions s on s.id = q.session_id;
end;
$$;

-- The flush (from 20261124000600_worker_claims.sql) also writes, with `finish`, the answer's
-- reasoning, its duration, the usage details and the sources.
create or replace function public.worker_flush(worker text, lease_seconds double precision, updates jsonb)
returns table (id uuid, cancel_requested boolean)
language sql
volatile
set search_path = ''
as $$
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
         reasoning = case when u.kind = 'finish' then u.reasoning else m.reasoning end,
         reasoning_ms = case when u.kind = 'finish' then u.reasoning_ms else m.reasoning_ms end,
         reasoning_tokens = case when u.kind = 'finish' then u.reasoning_tokens else m.reasoning_tokens end,
         cached_tokens = case when u.kind = 'finish' then u.cached_tokens else m.cached_tokens end,
         search_calls = case when u.kind = 'finish' then u.search_calls else m.search_calls end,
         sources = case when u.kind = 'finish' then u.sources else m.sources end
    from jsonb_to_recordset(updates) as u(
           id uuid, kind text, known integer, delta text, content text, status public.message_status,
           model text, input_tokens integer, output_tokens integer, response_time integer,
           finish_reason text, error_code text, error_message text, reasoning text, reasoning_ms integer,
           reasoning_tokens integer, cached_tokens integer, search_calls integer, sources jsonb)
   where m.id = u.id
     and m.message_type = 'assistant'
     and m.lease_owner = worker
     and m.status in ('pending', 'streaming')
     and u.kind in ('progress', 'finish', 'release')
     and (u.kind <> 'finish' or u.status in ('completed', 'error', 'cancelled'))
  returning m.id, m.cancel_requested
$$;

