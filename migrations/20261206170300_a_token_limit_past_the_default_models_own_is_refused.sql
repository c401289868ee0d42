-- A /v1 question whose model is the deployment's default (it names none, and neither does its
-- session or role: `model: role:assistant`, the built-in roles naming no model) has its max_tokens
-- checked against that model's own too. 20261206170100 checked it against the model admission priced
-- the question with, null for such a question (the database does not know LLM_MODEL), so the worker
-- still cut 100,000 to 16,384 without a word on the path a built-in role takes.
--
-- The API says which model that is: it sets `chatgalaxy.default_model` (transaction-local) to its
-- LLM_MODEL, the variable the worker answers such a question with, in the transaction that opens the
-- turn (api/compat/turns.py); the check takes it when admission named no model. Another door leaves
-- it unset and the check as before. A caller who could set it would only change their own refusal.
--
-- The function is 20261206170100's `question_contexts_admit` (its latest definition) with that one
-- change.

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
  if jsonb_typeof(new.parameters) = 'object' and jsonb_typeof(new.parameters -> 'max_tokens') = 'number' then
    select m.max_output into most from public.models m
     where m.id = coalesce(held.model, nullif(current_setting('chatgalaxy.default_model', true), ''));
    asked := (new.parameters ->> 'max_tokens')::numeric;
    if most is not null and asked > most then
      perform public.raise_refusal(400, 'MaxTokensTooLarge',
        format('max_tokens is too large: %s. This model supports at most %s completion tokens, whereas you provided %s.',
               asked, most, asked),
        jsonb_build_object('model', coalesce(held.model, current_setting('chatgalaxy.default_model', true)),
                           'limit', most, 'requested', asked));
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
