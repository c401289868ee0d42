-- A branch ("continue in a new chat", `chat_branch`) copies the conversation's path into a new chat.
-- Its copied questions were inserted as the user, so the admission trigger took each for a new
-- send: it reserved the model's reserve plus the question's length for every copied question (2,002
-- tokens for a short one), counted them against the plan's messages per minute, and refused the
-- branch outright (429) near the allowance. Those reservations never settled (a copied answer is
-- inserted final; settlement follows an answer's update to final), so every branch kept a piece of
-- the day's and month's allowance for good. The copy also dropped what a copied answer showed:
-- its thinking, its web sources (the text kept its [n] markers with nothing to point to), its
-- token details, and a /v1 request's messages and parameters (`question_contexts`), so a follow-up
-- in the branch was answered without them.
--
-- Now `chat_branch` names the chat it is copying into (`chatgalaxy.copying`, local to the
-- transaction, cleared before it returns; no door lets a user set it), admission
-- (`chat_messages_quota_admit`, `question_contexts_admit`) lets rows into that chat pass as the
-- trusted inserts they are, and the copy carries those columns and contexts.
-- Reservations that copies took before are released (charged 0): a reserved ledger row whose
-- question's first answer is already final can only be such a copy, since settlement runs in the
-- same transaction as the update that makes an answer final.

drop trigger chat_messages_quota_admit on public.chat_messages;
create trigger chat_messages_quota_admit before insert on public.chat_messages
  for each row
  when ((new.message_type = 'user' or (new.message_type = 'assistant' and new.answer_no > 1))
        and coalesce(current_setting('request.jwt.claims', true), '') <> ''
        and coalesce(current_setting('chatgalaxy.copying', true), '') is distinct from new.session_id::text)
  execute function public.usage_admit();

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

create or replace function public.chat_branch(message uuid, session uuid default null) returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  target public.chat_messages;
  origin public.chat_sessions;
  fresh uuid;
  questions jsonb;  -- each copied question's id by its original's
begin
  select * into target from public.chat_messages m where m.id = chat_branch.message and m.user_id = auth.uid();
  if not found then
    raise exception 'MessageNotFound: no such message' using errcode = 'PT404';
  end if;
  if exists (select 1 from public.chat_sessions s where s.id = chat_branch.session and s.user_id = auth.uid()) then
    return chat_branch.session;  -- made by an earlier call whose answer was lost
  end if;
  select * into origin from public.chat_sessions s where s.id = target.session_id;
  insert into public.chat_sessions (id, user_id, role_id, title)
  values (coalesce(chat_branch.session, gen_random_uuid()), origin.user_id, origin.role_id, origin.title)
  returning id into fresh;
  perform set_config('chatgalaxy.copying', fresh::text, true);  -- what goes into it is no new question
  with recursive up(msg, depth) as (
    select m, 0 from public.chat_messages m
     where m.id = case when target.message_type = 'assistant' then target.id else target.parent_id end
    union all
    select p.m, u.depth + 1
      from up u
      cross join lateral (select m from public.chat_messages m where m.id = (u.msg).parent_id limit 1) p
  ), copied as (
    select (u.msg).*, u.depth, gen_random_uuid() as copy_id from up u
  ), inserted as (
    insert into public.chat_messages
      (id, session_id, user_id, message_type, content, role_id, status, reply_to, answer_no, parent_id, model,
       input_tokens, output_tokens, tokens_used, response_time, finish_reason, error_code, error_message,
       attempts, created_at, attachments, web_search, reasoning, reasoning_ms, sources, reasoning_tokens,
       cached_tokens)
    select c.copy_id, fresh, c.user_id, c.message_type, c.content, c.role_id,
           case when c.status in ('pending', 'streaming') then 'cancelled'::public.message_status else c.status end,
           r.copy_id, case when c.message_type = 'assistant' then 1 end, p.copy_id, c.model,
           c.input_tokens, c.output_tokens, c.tokens_used, c.response_time, c.finish_reason, c.error_code,
           c.error_message, c.attempts, c.created_at, c.attachments, c.web_search, c.reasoning, c.reasoning_ms,
           c.sources, c.reasoning_tokens, c.cached_tokens
      from copied c
      left join copied p on p.id = c.parent_id
      left join copied r on r.id = c.reply_to
     order by c.depth desc
  )
  select coalesce(jsonb_object_agg(c.id, c.copy_id) filter (where c.message_type = 'user'), '{}')
    into questions
    from copied c;
  -- a /v1 request's messages and parameters go with its copied question
  insert into public.question_contexts (message_id, user_id, messages, parameters)
  select (questions ->> x.message_id::text)::uuid, x.user_id, x.messages, x.parameters
    from public.question_contexts x
   where x.message_id in (select k::uuid from jsonb_object_keys(questions) k);
  perform set_config('chatgalaxy.copying', '', true);
  return fresh;
end;
$$;

revoke execute on function public.chat_branch(uuid, uuid) from public, anon;
grant execute on function public.chat_branch(uuid, uuid) to authenticated;

update public.usage_ledger l
   set state = 'released', charged = 0, settled_at = now()
 where l.state = 'reserved'
   and exists (select 1 from public.chat_messages a
                where a.reply_to = l.message_id and a.answer_no = 1
                  and a.status in ('completed', 'error', 'cancelled'));
