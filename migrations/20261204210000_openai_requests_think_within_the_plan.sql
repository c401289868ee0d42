-- An OpenAI-compatible request may ask for deep thinking as DashScope's own OpenAI-compatible mode
-- takes it (`enable_thinking`, `thinking_budget`): kept as `thinking` / `thinking_budget` in
-- `question_contexts.parameters`, the keys a role's personality uses, so the worker treats them alike.
--
-- The plan decides, as for every other door: admission checks the session's and the role's
-- thinking when the question is inserted, before its parameters exist, so a request's own
-- `thinking` is checked when they are (same transaction: a refusal stores neither).

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
    if item.key = 'thinking' then
      if jsonb_typeof(item.value) <> 'boolean' then
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

create function public.question_contexts_admit() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if auth.role() is distinct from 'authenticated' or coalesce((new.parameters ->> 'thinking')::boolean, false) = false then
    return new;  -- trusted roles are not admitted (as chat_messages' admission)
  end if;
  if not exists (select 1 from public.user_plans u join public.plans p on p.id = u.plan_id
                  where u.user_id = new.user_id and p.allow_thinking) then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include deep thinking.',
                                 jsonb_build_object('feature', 'thinking'));
  end if;
  return new;
end;
$$;
revoke execute on function public.question_contexts_admit() from public, anon, authenticated;

create trigger question_contexts_admit before insert on public.question_contexts
  for each row execute function public.question_contexts_admit();
