-- A /v1 request's `reasoning_effort: "max"` (the openai SDK's: the model's longest chain of thought)
-- wins over a role's own thinking budget. It was kept as thinking on and no budget, and the worker
-- lays a request's parameters over the role's personality: a `role:<slug>` with a budget of 500
-- asked for "max" thought with 500, the explicit ask lost without a word. The API now keeps it as
-- `thinking_budget: null` (no budget: DashScope's default, the model's longest), which goes over the
-- role's as any budget the request sets does; a request saying nothing still thinks with the role's.
--
-- question_parameters_valid as 20261206142000 left it, with a null thinking_budget taken (no other
-- key may be null). Admission's budget check (question_contexts_admit) reads a number only: no
-- budget is never past the model's.

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
    if item.key = 'response_format' then
      if jsonb_typeof(item.value) <> 'string' or (item.value #>> '{}') <> 'json_object' then
        return false;
      end if;
      continue;
    end if;
    if item.key = 'prefix' then
      if jsonb_typeof(item.value) <> 'string' or char_length(item.value #>> '{}') not between 1 and 100000 then
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
    if item.key = 'thinking_budget' and jsonb_typeof(item.value) = 'null' then
      continue;  -- the model's longest (reasoning_effort max): over a role's own budget
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
              when 'thinking_budget' then n >= 1 and n <= 38912 and n = trunc(n)
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
