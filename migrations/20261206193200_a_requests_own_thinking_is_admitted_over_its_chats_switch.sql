-- A /v1 request's own thinking (`enable_thinking`, `reasoning_effort`, kept as the question's
-- `parameters.thinking`) goes over the switch of the web chat it continues (X-ChatGalaxy-Session),
-- as the worker now answers it (worker/store.py, Claim.thinking_switch). Admission read the chat's
-- switch alone: a request saying `enable_thinking: false` into a chat switched on, on a plan without
-- deep thinking, was refused 403 FeatureNotAllowed, though it asked for none.
--
-- Its question is admitted before its parameters are stored (question_contexts, after it in the same
-- transaction), so the API says the request's own switch as it says the default model: it sets
-- `chatgalaxy.request_thinking` (transaction-local, 'true' or 'false'; unset when the request says
-- nothing) before api_open_turn. Another answer to such a question (the web app's regenerate) reads
-- it from the stored parameters. A caller who could set the setting would only pass this check:
-- asking for thinking is refused by question_contexts_admit when the plan has none, and the worker
-- holds a question whose stored parameters do not say so to the chat's switch (worker/plan_check.py).
--
-- The function is 20261206170200's `usage_admit` (its latest definition) with that one check changed.

create or replace function public.usage_admit() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  acct public.user_plans%rowtype;
  p public.plans%rowtype;
  today date := (now() at time zone 'utc')::date;
  this_month date := date_trunc('month', now() at time zone 'utc')::date;
  folded record;
  amount bigint;
  recent integer;
  oldest timestamptz;
  resets timestamptz;
  q public.chat_messages%rowtype;
  session_model text;
  session_thinking boolean;
  asked_thinking boolean;
  persona jsonb;
  wanted text;
  context_chars bigint;
begin
  if auth.role() is distinct from 'authenticated' or new.user_id is distinct from auth.uid() then
    return new;  -- trusted roles are not admitted; someone else's session is RLS's to refuse
  end if;
  if new.message_type = 'user' then
    q := new;
  else  -- a requested answer: priced and checked as its question
    select * into q from public.chat_messages m where m.id = new.reply_to;
  end if;
  select * into acct from public.user_plans where user_id = new.user_id for update;
  if not found then
    insert into public.user_plans (user_id, plan_id)
    select new.user_id, pl.id from public.plans pl order by pl.is_default desc, pl.sort_order, pl.id limit 1
    on conflict (user_id) do nothing;
    select * into acct from public.user_plans where user_id = new.user_id for update;
  end if;
  if acct.disabled then
    perform public.raise_refusal(403, 'AccountDisabled',
      'This account is disabled: it can sign in and export its data but not send messages.');
  end if;
  select * into p from public.plans where id = acct.plan_id;
  -- The model and features this question will be answered with, as the worker will choose them:
  -- the question's model, else the session's, else its role's; thinking from the session or role.
  select s.model, s.thinking, r.personality into session_model, session_thinking, persona
    from public.chat_sessions s left join public.ai_roles r on r.id = s.role_id and r.is_active
   where s.id = q.session_id;
  if q.role_id is not null then
    select r.personality into persona from public.ai_roles r
     where r.slug = q.role_id and r.is_active and (r.created_by is null or r.created_by = q.user_id)
     order by r.created_by nulls last limit 1;
  end if;
  wanted := coalesce(q.model, session_model, persona ->> 'model');
  if q.model is not null and not exists (select 1 from public.models m where m.id = q.model and m.is_active) then
    perform public.raise_refusal(400, 'ModelNotFound', format('The model %s does not exist.', q.model),
                                 jsonb_build_object('model', q.model));
  end if;
  if wanted is not null and p.models is not null and not (wanted = any (p.models)) then
    perform public.raise_refusal(403, 'ModelNotAllowed',
      format('Your plan does not include the model %s.', wanted), jsonb_build_object('model', wanted));
  end if;
  -- the request's own thinking over the chat's switch: its stored parameters' (another answer), else
  -- what the API said of the question it is admitting now
  if new.message_type = 'user' then
    asked_thinking := nullif(current_setting('chatgalaxy.request_thinking', true), '')::boolean;
  else
    select (c.parameters ->> 'thinking')::boolean into asked_thinking from public.question_contexts c
     where c.message_id = q.id and jsonb_typeof(c.parameters -> 'thinking') = 'boolean';
  end if;
  if not p.allow_thinking and coalesce(asked_thinking, session_thinking, (persona ->> 'thinking')::boolean, false) then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include deep thinking.',
                                 jsonb_build_object('feature', 'thinking'));
  end if;
  if not p.allow_search and (q.web_search or coalesce(persona -> 'enable_search' = 'true'::jsonb, false)) then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include web search.',
                                 jsonb_build_object('feature', 'search'));
  end if;
  if not p.allow_vision
     and exists (select 1 from jsonb_array_elements(q.attachments) a where a ->> 'mime_type' like 'image/%') then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include images.',
                                 jsonb_build_object('feature', 'vision'));
  end if;
  -- Images are answered by a model that sees: the one asked for when it does, else one of the plan's
  -- (the worker takes LLM_VISION_MODEL when the plan includes it, else the first of the plan's that sees).
  if p.models is not null
     and exists (select 1 from jsonb_array_elements(q.attachments) a where a ->> 'mime_type' like 'image/%')
     and not exists (select 1 from public.models m where m.id = wanted and m.supports_vision)
     and not exists (select 1 from public.models m
                      where m.id = any (p.models) and m.is_active and m.supports_vision) then
    perform public.raise_refusal(403, 'VisionModelNotAllowed',
      'Your plan includes no model that reads images: ask without them, or ask an administrator for a plan with one.',
      jsonb_build_object('model', wanted));
  end if;

  if acct.day_start <> today then
    acct.day_start := today;
    acct.day_used := 0;
  end if;
  if acct.month_start <> this_month then
    acct.month_start := this_month;
    acct.month_used := 0;
  end if;
  for folded in
    update public.usage_ledger l set folded = true
     where l.user_id = new.user_id and l.state <> 'reserved' and not l.folded
    returning l.day, l.month, l.charged - l.reserved as delta
  loop
    if folded.day = acct.day_start then
      acct.day_used := greatest(acct.day_used + folded.delta, 0);
    end if;
    if folded.month = acct.month_start then
      acct.month_used := greatest(acct.month_used + folded.delta, 0);
    end if;
  end loop;

  if p.requests_per_minute is not null then
    select count(*), min(l.created_at) into recent, oldest
      from public.usage_ledger l
     where l.user_id = new.user_id and l.created_at > now() - interval '1 minute'
       and l.message_id is distinct from md5('title:' || l.session_id::text)::uuid;
    if recent >= p.requests_per_minute then
      resets := coalesce(oldest, now()) + interval '1 minute';
      perform public.raise_refusal(429, 'RateLimited',
        format('Your plan allows %s messages per minute.', p.requests_per_minute),
        jsonb_build_object('period', 'minute', 'limit', p.requests_per_minute, 'resets_at', resets),
        greatest(ceil(extract(epoch from resets - now())), 1)::integer);
    end if;
  end if;

  amount := public.usage_reservation(wanted, q.content);
  if new.message_type <> 'user' then
    -- a requested answer reads what its question's first answer read: the request's messages and words
    select coalesce((select sum(char_length(m ->> 'content'))
                       from jsonb_array_elements(case when jsonb_typeof(c.messages) = 'array'
                                                      then c.messages else '[]' end) m), 0)
           + coalesce(char_length(case when jsonb_typeof(c.parameters -> 'prefix') = 'string'
                                       then c.parameters ->> 'prefix' end), 0)
      into context_chars
      from public.question_contexts c where c.message_id = q.id;
    if coalesce(context_chars, 0) > 0 then
      amount := amount + ceil(context_chars * coalesce((select uw.input_weight from public.usage_weights uw
                                                         where uw.model = coalesce(wanted, '*') or uw.model = '*'
                                                         order by uw.model = '*' limit 1), 1))::bigint;
    end if;
  end if;
  if p.tokens_per_day is not null and acct.day_used + amount > p.tokens_per_day then
    resets := (today + 1)::timestamp at time zone 'utc';
    perform public.raise_refusal(429, 'QuotaExceeded', 'Your daily token allowance is used up.',
      jsonb_build_object('period', 'day', 'limit', p.tokens_per_day, 'used', acct.day_used,
                         'requested', amount, 'resets_at', resets),
      greatest(ceil(extract(epoch from resets - now())), 1)::integer);
  end if;
  if p.tokens_per_month is not null and acct.month_used + amount > p.tokens_per_month then
    resets := (this_month + interval '1 month')::timestamp at time zone 'utc';
    perform public.raise_refusal(429, 'QuotaExceeded', 'Your monthly token allowance is used up.',
      jsonb_build_object('period', 'month', 'limit', p.tokens_per_month, 'used', acct.month_used,
                         'requested', amount, 'resets_at', resets),
      greatest(ceil(extract(epoch from resets - now())), 1)::integer);
  end if;

  update public.user_plans
     set day_start = acct.day_start, day_used = acct.day_used + amount,
         month_start = acct.month_start, month_used = acct.month_used + amount
   where user_id = new.user_id;
  insert into public.usage_ledger (user_id, message_id, session_id, model, reserved, day, month)
  values (new.user_id, new.id, new.session_id, wanted, amount, acct.day_start, acct.month_start);
  return new;
end;
$$;
revoke execute on function public.usage_admit() from public, anon, authenticated;
