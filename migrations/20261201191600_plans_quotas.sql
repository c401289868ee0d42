-- Plans, quotas and the usage ledger: who may spend how many (weighted) tokens, enforced by the
-- database on every door a question comes through (REST from the SPA, the API, API keys).
--
-- Guarantees (README, "Plans and quotas"):
-- * Admission: a question a user inserts (as `authenticated`), and every further answer a user
--   requests for a question (`request_answer`, answer_no > 1: a regeneration), is admitted by a
--   BEFORE INSERT trigger that locks the user's `user_plans` row, so concurrent sends from any number of
--   devices, API replicas and workers are serialised per user: the sum of open reservations and
--   settled charges never passes the plan's daily or monthly allowance at admission time. A
--   refused question raises PostgREST's `PGRST` error (429 QuotaExceeded / RateLimited with
--   Retry-After, 403 AccountDisabled / ModelNotAllowed / FeatureNotAllowed, 400 ModelNotFound)
--   and nothing is stored.
-- * Settlement: when the admitted answer's row becomes final (answer 1 settles its question's
--   reservation, a requested answer n > 1 its own) (completed, error, cancelled;
--   whichever worker and whichever path finalised it), an AFTER UPDATE trigger settles the
--   reservation with the row's real usage, weighted per model, exactly once (`state = 'reserved'`
--   is the guard). It touches only its own ledger row (no per-user lock, so batched flushes of
--   many users cannot deadlock); the next admission folds settled rows into the counters.
-- * A charge outlives the message it paid for (no foreign key to chat_messages); deleting a
--   question whose answer had started charges the reservation, one never started releases it.
-- * Inserts as service_role or a direct database role (operators, migrations, benchmarks) are
--   trusted and not admitted.

-- Admins carry role = 'admin' in the JWT's app_metadata, which only the service role can set.
create or replace function public.is_admin() returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce((auth.jwt() -> 'app_metadata' ->> 'role') = 'admin', false)
$$;

-- A refusal PostgREST (and our API) turn into an HTTP error with our stable code.
create or replace function public.raise_refusal(
  http_status integer, code text, message text, details jsonb default '{}', retry_after integer default null
) returns void
language plpgsql
set search_path = ''
as $$
begin
  raise sqlstate 'PGRST' using
    message = jsonb_build_object('code', code, 'message', message, 'details', details::text,
                                 'hint', null)::text,
    detail = jsonb_build_object(
               'status', http_status,
               'headers', case when retry_after is null then '{}'::jsonb
                               else jsonb_build_object('Retry-After', retry_after::text) end)::text;
end;
$$;

create table public.plans (
  id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  name text not null check (char_length(btrim(name)) between 1 and 100),
  tokens_per_day bigint check (tokens_per_day >= 0),        -- null: unlimited
  tokens_per_month bigint check (tokens_per_month >= 0),    -- null: unlimited
  requests_per_minute integer check (requests_per_minute >= 0),  -- null: unlimited
  models text[],                                            -- null: every model
  allow_thinking boolean not null default true,
  allow_vision boolean not null default true,
  allow_search boolean not null default true,
  is_default boolean not null default false,
  sort_order integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index plans_one_default on public.plans (is_default) where is_default;

create trigger plans_touch_updated_at before update on public.plans
  for each row execute function public.touch_updated_at();

-- Making a plan the default takes the flag from the previous default.
create or replace function public.plans_single_default() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.is_default then
    update public.plans set is_default = false where is_default and id <> new.id;
  end if;
  return new;
end;
$$;

create trigger plans_single_default before insert or update of is_default on public.plans
  for each row when (new.is_default) execute function public.plans_single_default();

insert into public.plans (id, name, tokens_per_day, tokens_per_month, requests_per_minute, models,
                          allow_thinking, allow_vision, allow_search, is_default, sort_order) values
  ('free', 'Free', 1000000, 10000000, null, null, true, true, true, true, 1),
  ('pro', 'Pro', 10000000, 200000000, null, null, true, true, true, false, 2),
  ('unlimited', 'Unlimited', null, null, null, null, true, true, true, false, 3);

-- What one token of each kind costs in allowance tokens, per model; `*` prices the worker's
-- default model and any model without a row of its own (the catalogue of models is `models`).
-- `reserve_tokens` is held at admission on top of the question's own length.
create table public.usage_weights (
  model text primary key check (model = '*' or model ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'),
  input_weight numeric(10, 4) not null default 1 check (input_weight >= 0),
  output_weight numeric(10, 4) not null default 1 check (output_weight >= 0),
  reasoning_weight numeric(10, 4) not null default 1 check (reasoning_weight >= 0),
  image_weight numeric(10, 4) not null default 1 check (image_weight >= 0),
  search_call_tokens integer not null default 0 check (search_call_tokens >= 0),
  reserve_tokens integer not null default 2000 check (reserve_tokens >= 0),
  updated_at timestamptz not null default now()
);

create trigger usage_weights_touch_updated_at before update on public.usage_weights
  for each row execute function public.touch_updated_at();

insert into public.usage_weights (model, input_weight, output_weight, reasoning_weight, image_weight,
                                  search_call_tokens, reserve_tokens) values
  ('*', 1, 1, 1, 1, 1000, 2000),
  ('qwen-turbo', 1, 1, 1, 1, 1000, 2000),
  ('qwen-flash', 1, 1, 1, 1, 1000, 2000),
  ('qwen-plus', 2, 4, 4, 2, 1000, 4000),
  ('qwen-max', 6, 12, 12, 6, 1000, 8000),
  ('qwen3-max', 6, 12, 12, 6, 1000, 8000);

-- Every user's plan and account state, with the running counters admission checks.
create table public.user_plans (
  user_id uuid primary key references public.profiles (id) on delete cascade,
  plan_id text not null references public.plans (id) on update cascade,
  disabled boolean not null default false,
  day_start date not null default (now() at time zone 'utc')::date,
  day_used bigint not null default 0,
  month_start date not null default date_trunc('month', now() at time zone 'utc')::date,
  month_used bigint not null default 0,
  updated_at timestamptz not null default now()
);
create index user_plans_plan_idx on public.user_plans (plan_id);

-- One row per admitted question: its reservation, then its settled charge and usage.
create table public.usage_ledger (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  message_id uuid not null unique,   -- the question, or a requested answer n > 1; no foreign key:
                                     -- the charge outlives it
  session_id uuid,
  model text,                        -- asked for (null: the default), then the one that answered
  reserved bigint not null check (reserved >= 0),
  charged bigint check (charged >= 0),
  state text not null default 'reserved' check (state in ('reserved', 'settled', 'released')),
  folded boolean not null default false,  -- settled amount applied to user_plans' counters
  input_tokens integer,
  output_tokens integer,
  reasoning_tokens integer,
  image_tokens integer,
  search_calls integer,
  day date not null,
  month date not null,
  created_at timestamptz not null default now(),
  settled_at timestamptz,
  constraint usage_ledger_settled check ((state = 'reserved') = (charged is null))
);
create index usage_ledger_user_idx on public.usage_ledger (user_id, created_at desc);
create index usage_ledger_unfolded_idx on public.usage_ledger (user_id) where state <> 'reserved' and not folded;
create index usage_ledger_open_idx on public.usage_ledger (created_at) where state = 'reserved';

-- Sign-up gives the default plan.
create or replace function public.user_plans_for_new_profile() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.user_plans (user_id, plan_id)
  select new.id, p.id from public.plans p order by p.is_default desc, p.sort_order, p.id limit 1
  on conflict (user_id) do nothing;
  return new;
end;
$$;

create trigger profiles_default_plan after insert on public.profiles
  for each row execute function public.user_plans_for_new_profile();

insert into public.user_plans (user_id, plan_id)
select pr.id, (select p.id from public.plans p order by p.is_default desc, p.sort_order, p.id limit 1)
  from public.profiles pr
on conflict (user_id) do nothing;

-- Allowance tokens held when a question is admitted: the model's reserve plus the question.
create or replace function public.usage_reservation(model text, content text) returns bigint
language sql
stable
set search_path = ''
as $$
  select coalesce(w.reserve_tokens, 2000)
         + ceil(char_length(coalesce(content, '')) * coalesce(w.input_weight, 1))::bigint
    from (select 1) one
    left join lateral (select * from public.usage_weights uw
                        where uw.model = coalesce(usage_reservation.model, '*')
                           or uw.model = '*'
                        order by uw.model = '*' limit 1) w on true
$$;

-- What a final answer costs: each kind of token at its model's weight. `output_tokens`
-- includes reasoning tokens, as DashScope reports them.
create or replace function public.usage_charge(
  model text, input_tokens integer, output_tokens integer, reasoning_tokens integer,
  image_tokens integer, search_calls integer
) returns bigint
language sql
stable
set search_path = ''
as $$
  select ceil(coalesce(input_tokens, 0) * coalesce(w.input_weight, 1)
              + greatest(coalesce(output_tokens, 0) - coalesce(reasoning_tokens, 0), 0) * coalesce(w.output_weight, 1)
              + coalesce(reasoning_tokens, 0) * coalesce(w.reasoning_weight, 1)
              + coalesce(image_tokens, 0) * coalesce(w.image_weight, 1)
              + coalesce(search_calls, 0) * coalesce(w.search_call_tokens, 0))::bigint
    from (select 1) one
    left join lateral (select * from public.usage_weights uw
                        where uw.model = coalesce(usage_charge.model, '*') or uw.model = '*'
                        order by uw.model = '*' limit 1) w on true
$$;

-- Admission: see the header. Runs after chat_messages_owner (trigger names sort) has set user_id.
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
  persona jsonb;
  wanted text;
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
  if not p.allow_thinking and coalesce(session_thinking, (persona ->> 'thinking')::boolean, false) then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include deep thinking.',
                                 jsonb_build_object('feature', 'thinking'));
  end if;
  if not p.allow_search and q.web_search then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include web search.',
                                 jsonb_build_object('feature', 'search'));
  end if;
  if not p.allow_vision
     and exists (select 1 from jsonb_array_elements(q.attachments) a where a ->> 'mime_type' like 'image/%') then
    perform public.raise_refusal(403, 'FeatureNotAllowed', 'Your plan does not include images.',
                                 jsonb_build_object('feature', 'vision'));
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
     where l.user_id = new.user_id and l.created_at > now() - interval '1 minute';
    if recent >= p.requests_per_minute then
      resets := coalesce(oldest, now()) + interval '1 minute';
      perform public.raise_refusal(429, 'RateLimited',
        format('Your plan allows %s messages per minute.', p.requests_per_minute),
        jsonb_build_object('period', 'minute', 'limit', p.requests_per_minute, 'resets_at', resets),
        greatest(ceil(extract(epoch from resets - now())), 1)::integer);
    end if;
  end if;

  amount := public.usage_reservation(wanted, q.content);
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

-- Only requests carrying JWT claims (REST, the API's door) can be a user's; bulk loads by the
-- database owner skip the function call altogether.
create trigger chat_messages_quota_admit before insert on public.chat_messages
  for each row
  when ((new.message_type = 'user' or (new.message_type = 'assistant' and new.answer_no > 1))
        and coalesce(current_setting('request.jwt.claims', true), '') <> '')
  execute function public.usage_admit();

-- Settlement: the answer's row became final; charge its usage against the question's reservation.
-- Reasoning/image/search figures are read by name so the columns may arrive later.
create or replace function public.usage_settle() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  facts jsonb := to_jsonb(new);
  reasoning integer := (facts ->> 'reasoning_tokens')::integer;
  images integer := (facts ->> 'image_tokens')::integer;
  searches integer := (facts ->> 'search_calls')::integer;
begin
  update public.usage_ledger l
     set state = 'settled',
         charged = public.usage_charge(coalesce(new.model, l.model), new.input_tokens, new.output_tokens,
                                       reasoning, images, searches),
         model = coalesce(new.model, l.model),
         input_tokens = new.input_tokens,
         output_tokens = new.output_tokens,
         reasoning_tokens = reasoning,
         image_tokens = images,
         search_calls = searches,
         settled_at = now()
   where l.message_id = case when new.answer_no > 1 then new.id else new.reply_to end and l.state = 'reserved';
  return null;
end;
$$;

create trigger chat_messages_quota_settle after update of status on public.chat_messages
  for each row
  when (new.message_type = 'assistant'
        and old.status in ('pending', 'streaming')
        and new.status in ('completed', 'error', 'cancelled'))
  execute function public.usage_settle();

-- A question (or a requested answer) deleted while its reservation is open: charge the
-- reservation if its answer had started (tokens were spent), release it otherwise.
create or replace function public.usage_release_deleted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  started boolean;
begin
  if old.message_type = 'user' then
    select exists (select 1 from public.chat_messages a
                    where a.reply_to = old.id and a.answer_no = 1 and a.status = 'streaming')
      into started;
  else
    started := old.status = 'streaming';
  end if;
  update public.usage_ledger l
     set state = case when started then 'settled' else 'released' end,
         charged = case when started then l.reserved else 0 end,
         settled_at = now()
   where l.message_id = old.id and l.state = 'reserved';
  return old;
end;
$$;

create trigger chat_messages_quota_release before delete on public.chat_messages
  for each row when (old.message_type = 'user' or (old.message_type = 'assistant' and old.answer_no > 1))
  execute function public.usage_release_deleted();

-- The caller's (or, for an admin, anyone's) allowance now: plan, limits, used, remaining, resets.
-- Security invoker: RLS decides whose rows it can see.
create or replace function public.usage_allowance(target uuid default null) returns jsonb
language sql
stable
set search_path = ''
as $$
  with acct as (
    select up.*, (now() at time zone 'utc')::date as today,
           date_trunc('month', now() at time zone 'utc')::date as this_month
      from public.user_plans up where up.user_id = coalesce(target, auth.uid())
  ), used as (
    select a.user_id,
           case when a.day_start = a.today then a.day_used else 0 end
             + coalesce((select sum(l.charged - l.reserved) from public.usage_ledger l
                          where l.user_id = a.user_id and l.state <> 'reserved' and not l.folded
                            and l.day = a.today), 0) as day_used,
           case when a.month_start = a.this_month then a.month_used else 0 end
             + coalesce((select sum(l.charged - l.reserved) from public.usage_ledger l
                          where l.user_id = a.user_id and l.state <> 'reserved' and not l.folded
                            and l.month = a.this_month), 0) as month_used
      from acct a
  )
  select jsonb_build_object(
           'user_id', a.user_id,
           'plan', jsonb_build_object('id', p.id, 'name', p.name, 'tokens_per_day', p.tokens_per_day,
                                      'tokens_per_month', p.tokens_per_month,
                                      'requests_per_minute', p.requests_per_minute, 'models', p.models,
                                      'allow_thinking', p.allow_thinking, 'allow_vision', p.allow_vision,
                                      'allow_search', p.allow_search),
           'disabled', a.disabled,
           'day', jsonb_build_object('used', greatest(u.day_used, 0), 'limit', p.tokens_per_day,
                                     'remaining', case when p.tokens_per_day is null then null
                                                       else greatest(p.tokens_per_day - u.day_used, 0) end,
                                     'resets_at', (a.today + 1)::timestamp at time zone 'utc'),
           'month', jsonb_build_object('used', greatest(u.month_used, 0), 'limit', p.tokens_per_month,
                                       'remaining', case when p.tokens_per_month is null then null
                                                         else greatest(p.tokens_per_month - u.month_used, 0) end,
                                       'resets_at', (a.this_month + interval '1 month')::timestamp at time zone 'utc'))
    from acct a join used u on u.user_id = a.user_id join public.plans p on p.id = a.plan_id
$$;

-- Allowance tokens per UTC day and model over the last `days` days (reservations still open
-- count at their reserved amount). Security invoker, as above.
create or replace function public.usage_daily(days integer default 30, target uuid default null)
returns table (day date, model text, tokens bigint, requests bigint, input_tokens bigint, output_tokens bigint)
language sql
stable
set search_path = ''
as $$
  select (l.created_at at time zone 'utc')::date, coalesce(l.model, 'default'),
         sum(coalesce(l.charged, l.reserved))::bigint, count(*)::bigint,
         coalesce(sum(l.input_tokens), 0)::bigint, coalesce(sum(l.output_tokens), 0)::bigint
    from public.usage_ledger l
   where l.user_id = coalesce(target, auth.uid())
     and l.created_at >= ((now() at time zone 'utc')::date - (least(greatest(days, 1), 366) - 1))::timestamp
                         at time zone 'utc'
     and l.state <> 'released'
   group by 1, 2
   order by 1, 2
$$;

alter table public.plans enable row level security;
alter table public.usage_weights enable row level security;
alter table public.user_plans enable row level security;
alter table public.usage_ledger enable row level security;

-- Plans and weights: everyone signed in reads the catalogue; only admins change it.
create policy "plans: signed-in read" on public.plans for select to authenticated using (true);
create policy "plans: admins create" on public.plans for insert to authenticated with check ((select public.is_admin()));
create policy "plans: admins update" on public.plans for update to authenticated
  using ((select public.is_admin())) with check ((select public.is_admin()));
create policy "plans: admins delete" on public.plans for delete to authenticated using ((select public.is_admin()));
create policy "usage_weights: signed-in read" on public.usage_weights for select to authenticated using (true);
create policy "usage_weights: admins create" on public.usage_weights for insert to authenticated
  with check ((select public.is_admin()));
create policy "usage_weights: admins update" on public.usage_weights for update to authenticated
  using ((select public.is_admin())) with check ((select public.is_admin()));
create policy "usage_weights: admins delete" on public.usage_weights for delete to authenticated
  using ((select public.is_admin()));

-- A user reads their own plan row and ledger; admins read everyone's and change plans and
-- account state. Nobody but the triggers above writes counters or the ledger.
create policy "user_plans: owner or admin reads" on public.user_plans for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()));
create policy "user_plans: admins update" on public.user_plans for update to authenticated
  using ((select public.is_admin())) with check ((select public.is_admin()));
create policy "usage_ledger: owner or admin reads" on public.usage_ledger for select to authenticated
  using (user_id = (select auth.uid()) or (select public.is_admin()));

-- Admins see every profile (to list and search users).
create policy "profiles: admins read" on public.profiles for select to authenticated
  using ((select public.is_admin()));

-- Admins edit the built-in roles (and see inactive ones); they cannot delete them.
create policy "ai_roles: admins read built-in" on public.ai_roles for select to authenticated
  using (created_by is null and (select public.is_admin()));
create policy "ai_roles: admins create built-in" on public.ai_roles for insert to authenticated
  with check (created_by is null and (select public.is_admin()));
create policy "ai_roles: admins update built-in" on public.ai_roles for update to authenticated
  using (created_by is null and (select public.is_admin()))
  with check (created_by is null and (select public.is_admin()));

revoke all on public.plans, public.usage_weights, public.user_plans, public.usage_ledger from anon;
revoke insert, update, delete on public.plans, public.usage_weights, public.user_plans, public.usage_ledger
  from authenticated;
grant select on public.plans, public.usage_weights, public.user_plans, public.usage_ledger to authenticated;
grant insert, update, delete on public.plans, public.usage_weights to authenticated;
grant update (plan_id, disabled) on public.user_plans to authenticated;
-- A question may name the model it wants (the OpenAI-compatible API does); admission checks it
-- against `models` and the plan.
grant insert (model) on public.chat_messages to authenticated;

revoke execute on function public.usage_admit() from public, anon, authenticated;
revoke execute on function public.usage_settle() from public, anon, authenticated;
revoke execute on function public.usage_release_deleted() from public, anon, authenticated;
revoke execute on function public.user_plans_for_new_profile() from public, anon, authenticated;
revoke execute on function public.plans_single_default() from public, anon, authenticated;
revoke execute on function public.raise_refusal(integer, text, text, jsonb, integer) from public, anon, authenticated;
