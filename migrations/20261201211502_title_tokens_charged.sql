-- The tokens a session's title costs are charged to the session's owner, like an answer's: a
-- settled `usage_ledger` row (nothing reserved, `charged` = the call's usage at its model's
-- weights, `usage_charge`), which the owner's next admission folds into the day's and month's
-- counters exactly as it folds settled answers, and which `usage_allowance()` and
-- `usage_daily()` count from the moment it is written. One charge per session's title: the row's
-- `message_id` is derived from the session (`md5('title:' || id)`), so a retried or duplicated
-- title call is never charged twice. The title is a product decision the user did not ask for,
-- but its tokens are spent on their conversation and the operator pays for them; an allowance
-- that leaves them out would let title calls run past every plan.
--
-- Only the worker (service_role) calls it; a session deleted meanwhile is charged nothing (its
-- owner is unknown then).
create or replace function public.worker_charge_title(
  session_id uuid, model text, input_tokens integer, output_tokens integer, reasoning_tokens integer
) returns boolean
language sql
volatile
set search_path = ''
as $$
  with charged as (
    insert into public.usage_ledger (user_id, message_id, session_id, model, reserved, charged, state,
                                     input_tokens, output_tokens, reasoning_tokens, day, month, settled_at)
    select s.user_id, md5('title:' || s.id::text)::uuid, s.id, worker_charge_title.model, 0,
           public.usage_charge(worker_charge_title.model, greatest(worker_charge_title.input_tokens, 0),
                               greatest(worker_charge_title.output_tokens, 0),
                               greatest(worker_charge_title.reasoning_tokens, 0), null, null),
           'settled', greatest(worker_charge_title.input_tokens, 0), greatest(worker_charge_title.output_tokens, 0),
           greatest(worker_charge_title.reasoning_tokens, 0),
           (now() at time zone 'utc')::date, date_trunc('month', now() at time zone 'utc')::date, now()
      from public.chat_sessions s
     where s.id = worker_charge_title.session_id
    on conflict (message_id) do nothing
    returning 1
  )
  select exists (select 1 from charged)
$$;

revoke execute on function public.worker_charge_title(uuid, text, integer, integer, integer)
  from public, anon, authenticated;
grant execute on function public.worker_charge_title(uuid, text, integer, integer, integer) to service_role;
