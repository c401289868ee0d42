-- A seed is in [0, 2^31 - 1] at every door, as DashScope takes it: its compatible mode refuses a larger
-- one (error-code page: 400 invalid_request_error / invalid_value) and its API reference gives that
-- range for both protocols. A request's parameters took any seed up to 2^63 - 1 and a role's
-- personality any value at all; the worker sent them on, and DashScope refused the answer.
-- question_parameters_valid as 20261205010000 left it, the seed's range alone changed; the role
-- check as 20261201173909 left it, with the seed checked too (the worker drops an out-of-range seed
-- of a row stored before this).

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
              when 'seed' then n >= 0 and n <= 2147483647 and n = trunc(n)
              when 'top_k' then n >= 0 and n <= 100 and n = trunc(n)
              when 'repetition_penalty' then n > 0 and n <= 10
              else false
            end;
    if not fits then
      return false;
    end if;
  end loop;
  return true;
end;
$$;

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
    when p ? 'seed' and (jsonb_typeof(p->'seed') <> 'number'
                         or (p->>'seed')::numeric <> trunc((p->>'seed')::numeric)
                         or (p->>'seed')::numeric < 0 or (p->>'seed')::numeric > 2147483647)
      then 'seed must be an integer in [0, 2147483647]'
  end;
  if bad is not null then
    raise exception 'invalid personality: %', bad using errcode = '22023';
  end if;
  return new;
end;
$$;
