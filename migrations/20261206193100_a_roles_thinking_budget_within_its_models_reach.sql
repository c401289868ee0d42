-- A role's own thinking budget is saved only within the longest chain of thought of the model that
-- answers it (`models.max_reasoning`). 20261205145000 held it to 38,912, the longest any model here
-- takes, while an operator may set a model's own below that: a role naming qwen-plus lowered to
-- 1,000 was saved with 5,000, and the worker cut it to 1,000 without a word (worker/prompt.py).
--
-- Which model is that: the one the role names; naming none, any offered model that thinks may answer
-- it (the chat's, or the deployment's default, which only the API and the worker know), so the least
-- of theirs. A model without a thinking switch (no max_reasoning) is sent no budget: nothing to hold.
-- Refused 400 (22023, as ai_roles_check_personality's refusals) with a stable code as the message's
-- prefix, `RoleThinkingBudgetTooLarge: `, which the web app words (web/src/lib/errors.ts), saying
-- the limit. An update is checked only when it changes the budget or the model: a role saved before
-- its model's limit was lowered still saves its other settings (the worker cuts its budget, and
-- says so in its log). A chat's own model may still answer a role with a longer budget than it
-- takes: the worker's cut stays for that. Its own trigger, named to fire after
-- ai_roles_check_personality (triggers fire by name), so a budget of the wrong kind is refused there.

create or replace function public.ai_roles_thinking_budget_within_model() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  p jsonb := new.personality;
  budget numeric;
  answering text;
  longest integer;
begin
  if jsonb_typeof(p -> 'thinking_budget') is distinct from 'number' then
    return new;  -- none (or a kind ai_roles_check_personality refuses)
  end if;
  if tg_op = 'UPDATE' and p -> 'thinking_budget' is not distinct from old.personality -> 'thinking_budget'
     and p -> 'model' is not distinct from old.personality -> 'model' then
    return new;
  end if;
  budget := (p ->> 'thinking_budget')::numeric;
  if jsonb_typeof(p -> 'model') = 'string' then
    answering := p ->> 'model';
    select m.max_reasoning into longest from public.models m where m.id = answering;
  else
    select m.id, m.max_reasoning into answering, longest from public.models m
     where m.is_active and m.max_reasoning is not null
     order by m.max_reasoning, m.id limit 1;
  end if;
  if longest is not null and budget > longest then
    raise exception 'RoleThinkingBudgetTooLarge: thinking_budget is too large: %. % thinks at most % tokens, whereas you provided %.',
      budget, answering, longest, budget using errcode = '22023';
  end if;
  return new;
end;
$$;

create trigger ai_roles_thinking_budget_within_model before insert or update of personality on public.ai_roles
  for each row execute function public.ai_roles_thinking_budget_within_model();
