-- What each API key spent. A script that burns the allowance should be findable by its key, as on
-- OpenAI's dashboard: the usage page told models and days apart, not keys.
--
-- The ledger row of every admitted question now names the API key it came through
-- (`usage_ledger.api_key_id`): the key's requests carry its id in the JWT's `app_metadata`, which
-- only the service (our API, which mints those tokens) can set, so a user cannot attribute a web
-- question to a key. The column's default reads it; rows of other doors (the web app, the worker's
-- titles) get null. No foreign key, as for the ledger's other columns: a charge outlives its key.
-- Earlier rows are attributed where their session is a key's chat of the day.
--
-- `usage_by_key(days)`: requests and allowance tokens per key over the last `days` UTC days
-- (released reservations left out, open ones at their reserved amount, as `usage_daily`),
-- security invoker: RLS gives each user their own rows.

alter table public.usage_ledger add column api_key_id uuid default (
  case when nullif(current_setting('request.jwt.claims', true), '')::jsonb #>> '{app_metadata,key_id}'
              ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
       then (current_setting('request.jwt.claims', true)::jsonb #>> '{app_metadata,key_id}')::uuid end
);

update public.usage_ledger l
   set api_key_id = s.api_key_id
  from public.chat_sessions s
 where s.id = l.session_id and s.api_key_id is not null and l.api_key_id is null;

create function public.usage_by_key(days integer default 30)
returns table (key_id uuid, requests bigint, tokens bigint, last_at timestamptz)
language sql
stable
set search_path = ''
as $$
  select l.api_key_id, count(*)::bigint, sum(coalesce(l.charged, l.reserved))::bigint, max(l.created_at)
    from public.usage_ledger l
   where l.user_id = auth.uid()
     and l.api_key_id is not null
     and l.created_at >= ((now() at time zone 'utc')::date - (least(greatest(days, 1), 366) - 1))::timestamp
                         at time zone 'utc'
     and l.state <> 'released'
   group by l.api_key_id
$$;

revoke execute on function public.usage_by_key(integer) from public, anon;
grant execute on function public.usage_by_key(integer) to authenticated;
