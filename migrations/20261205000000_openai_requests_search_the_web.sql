-- An OpenAI-compatible request may ask for web search as DashScope's own OpenAI-compatible mode
-- takes it (`enable_search`, with `search_options.search_strategy` / `forced_search`, e.g. LobeChat's
-- Qwen provider) or as OpenAI's search models do (`web_search_options`). Before, those keys were
-- ignored: the answer came without a search and without a word of why.
--
-- Now the question is stored with `web_search` (the web app's switch), so the plan decides at
-- admission as for every other door (403 FeatureNotAllowed without `allow_search`), the worker
-- searches when the model offers it and charges the search call, and the answer's sources are
-- stored as the web app's are. The strategy and the forced switch are kept in
-- `question_contexts.parameters` (checked here: `search_strategy` turbo | max | standard,
-- `forced_search` a boolean) and reach DashScope's `search_options`.

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
    if item.key in ('thinking', 'forced_search') then
      if jsonb_typeof(item.value) <> 'boolean' then
        return false;
      end if;
      continue;
    end if;
    if item.key = 'search_strategy' then
      if jsonb_typeof(item.value) <> 'string' or (item.value #>> '{}') not in ('turbo', 'max', 'standard') then
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
              when 'thinking_budget' then n >= 1 and n <= 1000000 and n = trunc(n)
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

drop function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb, jsonb);
create function public.api_open_turn(
  question_id uuid, question text, model_id text, role_ref text, role_by_id boolean, named_session uuid,
  key_id uuid, key_name text, day date, context jsonb default null, parameters jsonb default '{}',
  attachments jsonb default '[]', web_search boolean default false
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
    insert into public.chat_messages (id, session_id, message_type, content, role_id, model, attachments, web_search)
    values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end,
            coalesce(attachments, '[]'), coalesce(web_search, false));
  else
    insert into public.chat_messages (id, session_id, message_type, content, role_id, model, parent_id, attachments,
                                      web_search)
    values (question_id, sid, 'user', question, stored_role, case when role_ref is null then model_id end, null,
            coalesce(attachments, '[]'), coalesce(web_search, false));
  end if;
  if context is not null or coalesce(parameters, '{}') <> '{}' then
    insert into public.question_contexts (message_id, messages, parameters)
    values (question_id, context, coalesce(parameters, '{}'));
  end if;
  return sid;
end;
$$;

revoke execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb, jsonb, boolean)
  from public, anon;
grant execute on function public.api_open_turn(uuid, text, text, text, boolean, uuid, uuid, text, date, jsonb, jsonb, jsonb, boolean)
  to authenticated;
