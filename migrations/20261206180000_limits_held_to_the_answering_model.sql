-- A /v1 question's limits are held to the model that will answer it. 20261206170300 checked
-- max_tokens against the model admission priced (else the deployment's default), but a question
-- with images asked of a model without vision is answered by the vision model (LLM_VISION_MODEL,
-- qwen-vl-max, writing at most 8,192 tokens; else the plan's first model that sees, as the worker
-- chooses it, worker/prompt.py choose_model): 10,000 asked of qwen-plus with an image passed here and
-- the worker cut it to 8,192 without a word. And a `thinking_budget` past the answering model's
-- longest chain of thought (`models.max_reasoning`, which an operator may set below the 38,912 the
-- API takes) was cut to it the same way.
--
-- Now both are refused here, before anything is stored or reserved: max_tokens as before
-- (MaxTokensTooLarge, OpenAI's words), the budget as `ThinkingBudgetTooLarge` (400; /v1
-- `invalid_value`, param thinking_budget), only when the request does not switch thinking off (the
-- worker sends no budget then). The API says which model answers images as it says the default: it
-- sets `chatgalaxy.vision_model` (transaction-local) to its LLM_VISION_MODEL beside
-- `chatgalaxy.default_model` (api/compat/turns.py); another door leaves it unset and the check as
-- before. A caller who could set it would only change their own refusal.
--
-- The function is 20261206170300's `question_contexts_admit` (its latest definition) with the
-- answering model chosen so and the budget checked.

create or replace function public.question_contexts_admit() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  p public.plans;
  acct public.user_plans;
  held public.usage_ledger;
  extra bigint;
  read bigint;
  weight numeric;
  most integer;
  asked numeric;
  resets timestamptz;
  answering text;
  vision text;
  longest integer;
begin
  if auth.role() is distinct from 'authenticated'
     or (coalesce(current_setting('chatgalaxy.copying', true), '') <> ''
         and current_setting('chatgalaxy.copying', true) = (select m.session_id::text from public.chat_messages m
                                                              where m.id = new.message_id)) then
    return new;  -- trusted roles and a branch's copies are not admitted (as chat_messages' admission)
  end if;
  select * into acct from public.user_plans where user_id = new.user_id for update;
  select * into p from public.plans where id = acct.plan_id;
  if coalesce((new.parameters ->> 'thinking')::boolean, false) and not coalesce(p.allow_thinking, false) then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include deep thinking.',
                                 jsonb_build_object('feature', 'thinking'));
  end if;
  if new.messages is not null and not public.question_context_valid(new.messages) then
    return new;  -- a shape the table's check refuses after this trigger
  end if;
  select * into held from public.usage_ledger l where l.message_id = new.message_id and l.state = 'reserved';
  if not found then
    return new;  -- a question admission did not price (inserted by a trusted role)
  end if;
  -- The model that will answer, as the worker chooses it: the one admission priced, else the
  -- deployment's default; for a question with images, when that one does not see, the vision model
  -- the API named, else (the plan leaving it out) the plan's first active model that sees.
  answering := coalesce(held.model, nullif(current_setting('chatgalaxy.default_model', true), ''));
  vision := nullif(current_setting('chatgalaxy.vision_model', true), '');
  if vision is not null
     and exists (select 1 from public.chat_messages q, jsonb_array_elements(q.attachments) a
                  where q.id = new.message_id and a ->> 'mime_type' like 'image/%')
     and not exists (select 1 from public.models m where m.id = answering and m.is_active and m.supports_vision) then
    if p.models is not null and not (vision = any (p.models)) then
      vision := coalesce((select u.id from unnest(p.models) with ordinality u(id, n)
                            join public.models m on m.id = u.id and m.is_active and m.supports_vision
                           order by u.n limit 1), vision);
    end if;
    answering := vision;
  end if;
  if jsonb_typeof(new.parameters) = 'object' and jsonb_typeof(new.parameters -> 'max_tokens') = 'number' then
    select m.max_output into most from public.models m where m.id = answering;
    asked := (new.parameters ->> 'max_tokens')::numeric;
    if most is not null and asked > most then
      perform public.raise_refusal(400, 'MaxTokensTooLarge',
        format('max_tokens is too large: %s. This model supports at most %s completion tokens, whereas you provided %s.',
               asked, most, asked),
        jsonb_build_object('model', answering, 'limit', most, 'requested', asked));
    end if;
  end if;
  if jsonb_typeof(new.parameters) = 'object' and jsonb_typeof(new.parameters -> 'thinking_budget') = 'number'
     and new.parameters -> 'thinking' is distinct from 'false'::jsonb then
    select m.max_reasoning into longest from public.models m where m.id = answering;
    asked := (new.parameters ->> 'thinking_budget')::numeric;
    if longest is not null and asked > longest then
      perform public.raise_refusal(400, 'ThinkingBudgetTooLarge',
        format('thinking_budget is too large: %s. This model thinks at most %s tokens, whereas you provided %s.',
               asked, longest, asked),
        jsonb_build_object('model', answering, 'limit', longest, 'requested', asked));
    end if;
  end if;
  -- What the model reads besides the question: the request's earlier messages and its words to
  -- continue (a string, as question_parameters_valid has it; anything else the table's check refuses)
  read := coalesce((select sum(char_length(m ->> 'content')) from jsonb_array_elements(
                      case when jsonb_typeof(new.messages) = 'array' then new.messages else '[]' end) m), 0);
  if jsonb_typeof(new.parameters) = 'object' and jsonb_typeof(new.parameters -> 'prefix') = 'string' then
    read := read + char_length(new.parameters ->> 'prefix');
  end if;
  select coalesce(w.input_weight, 1) into weight
    from (select 1) one
    left join lateral (select uw.input_weight from public.usage_weights uw
                        where uw.model = coalesce(held.model, '*') or uw.model = '*'
                        order by uw.model = '*' limit 1) w on true;
  extra := ceil(read * weight)::bigint;
  if coalesce(extra, 0) = 0 then
    return new;
  end if;
  -- Admission brought the counters to the question's day and month and added its reservation to
  -- them. A context stored on a later day (another door, another transaction) holds nothing more:
  -- the counters moved on, and the charge settles against the reservation as it stands.
  if acct.day_start <> held.day or acct.month_start <> held.month then
    return new;
  end if;
  if p.tokens_per_day is not null and acct.day_used + extra > p.tokens_per_day then
    resets := (acct.day_start + 1)::timestamp at time zone 'utc';
    perform public.raise_refusal(429, 'QuotaExceeded', 'Your daily token allowance is used up.',
      jsonb_build_object('period', 'day', 'limit', p.tokens_per_day, 'used', acct.day_used - held.reserved,
                         'requested', held.reserved + extra, 'resets_at', resets),
      greatest(ceil(extract(epoch from resets - now())), 1)::integer);
  end if;
  if p.tokens_per_month is not null and acct.month_used + extra > p.tokens_per_month then
    resets := (acct.month_start + interval '1 month')::timestamp at time zone 'utc';
    perform public.raise_refusal(429, 'QuotaExceeded', 'Your monthly token allowance is used up.',
      jsonb_build_object('period', 'month', 'limit', p.tokens_per_month, 'used', acct.month_used - held.reserved,
                         'requested', held.reserved + extra, 'resets_at', resets),
      greatest(ceil(extract(epoch from resets - now())), 1)::integer);
  end if;
  update public.user_plans set day_used = day_used + extra, month_used = month_used + extra
   where user_id = new.user_id;
  update public.usage_ledger set reserved = reserved + extra where id = held.id;
  return new;
end;
$$;
revoke execute on function public.question_contexts_admit() from public, anon, authenticated;
