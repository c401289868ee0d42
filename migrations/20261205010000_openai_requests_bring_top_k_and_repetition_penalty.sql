-- DashScope's own sampling keys through the OpenAI-compatible API, as its compatible mode takes them
-- (`extra_body`): `top_k` (an integer from 0 to 100; 0 leaves it off) and `repetition_penalty`
-- (above 0, at most 10; 1 is none). Both were ignored. Kept in `question_contexts.parameters`,
-- checked here as the other keys are; the worker already passes a role's own to the model.

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
