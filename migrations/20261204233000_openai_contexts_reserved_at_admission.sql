-- An OpenAI-compatible request's context is held against the allowance when it is admitted, as its
-- question is.
--
-- Admission (`usage_admit`, at the question's insert) reserves the model's reserve plus the
-- question's own length; a web question's earlier turns were each admitted in their turn, but a
-- request's context (`question_contexts.messages`, up to a million characters) arrives in one go
-- and was not held at all: a user with a thousand tokens left could send a context of a hundred
-- thousand and be charged for it after the answer, far past the plan's allowance.
--
-- Now the context's characters, weighted as the question's own (the model's input weight), are
-- added to the question's open reservation when the context is stored (same transaction as the
-- question, `api_open_turn`, after its admission locked the user's plan row), and checked against
-- the day's and the month's allowance as admission checks: a refusal is 429 QuotaExceeded with
-- Retry-After and stores nothing. Settlement is unchanged (the charge replaces the reservation,
-- whatever it held). Trusted roles are not admitted, as for questions.

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
  resets timestamptz;
begin
  if auth.role() is distinct from 'authenticated' then
    return new;  -- trusted roles are not admitted (as chat_messages' admission)
  end if;
  select * into acct from public.user_plans where user_id = new.user_id for update;
  select * into p from public.plans where id = acct.plan_id;
  if coalesce((new.parameters ->> 'thinking')::boolean, false) and not coalesce(p.allow_thinking, false) then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include deep thinking.',
                                 jsonb_build_object('feature', 'thinking'));
  end if;
  if new.messages is null or not public.question_context_valid(new.messages) then
    return new;  -- nothing to hold, or a shape the table's check refuses after this trigger
  end if;
  select * into held from public.usage_ledger l where l.message_id = new.message_id and l.state = 'reserved';
  if not found then
    return new;  -- a question admission did not price (inserted by a trusted role)
  end if;
  select ceil(sum(char_length(m ->> 'content')) * coalesce(max(w.input_weight), 1))::bigint into extra
    from jsonb_array_elements(new.messages) m
    left join lateral (select uw.input_weight from public.usage_weights uw
                        where uw.model = coalesce(held.model, '*') or uw.model = '*'
                        order by uw.model = '*' limit 1) w on true;
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
