-- A role's search settings are checked as its other settings are. The worker honours a role's
-- `enable_search`, `forced_search` and `search_strategy` (DashScope's search_options: turbo, max,
-- standard, as `question_parameters_valid` takes them for /v1), but the personality check let any
-- value through, and the worker dropped a value it could not use without a word: a role saved with
-- `"enable_search": "yes"` or `"search_strategy": "agent"` never searched as asked. Now such a role
-- is refused (22023, PostgREST 400) with what is wrong, at every door; stored rows stay.
--
-- The function is 20261205145000's `ai_roles_check_personality` with those three clauses added.

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
                                    or (p->>'thinking_budget')::numeric < 1
                                    or (p->>'thinking_budget')::numeric > 38912)
      then 'thinking_budget must be an integer in [1, 38912]'
    when p ? 'seed' and (jsonb_typeof(p->'seed') <> 'number'
                         or (p->>'seed')::numeric <> trunc((p->>'seed')::numeric)
                         or (p->>'seed')::numeric < 0 or (p->>'seed')::numeric > 2147483647)
      then 'seed must be an integer in [0, 2147483647]'
    when p ? 'enable_search' and jsonb_typeof(p->'enable_search') <> 'boolean'
      then 'enable_search must be true or false'
    when p ? 'forced_search' and jsonb_typeof(p->'forced_search') <> 'boolean'
      then 'forced_search must be true or false'
    when p ? 'search_strategy' and (jsonb_typeof(p->'search_strategy') <> 'string'
                                    or (p->>'search_strategy') not in ('turbo', 'max', 'standard'))
      then 'search_strategy must be one of turbo, max, standard'
  end;
  if bad is not null then
    raise exception 'invalid personality: %', bad using errcode = '22023';
  end if;
  return new;
end;
$$;
