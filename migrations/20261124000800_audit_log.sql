-- audit.events: security events (failed logins, rate-limit hits, refresh-token reuse, access to
-- another user's resources, refused WebSocket joins, account deletions). A schema of its own that
-- REST does not expose; only service_role may read it, and writes go through one SECURITY DEFINER
-- function that only service_role may execute (the API's key, as for the rate-limit counters).
-- user_id has no foreign key on purpose: the record must outlive a deleted account.

create schema if not exists audit;
revoke all on schema audit from public;
grant usage on schema audit to service_role;

create table audit.events (
  id bigint generated always as identity primary key,
  occurred_at timestamptz not null default now(),
  kind text not null check (kind in (
    'login_failed', 'rate_limited', 'refresh_token_reuse', 'permission_denied', 'ws_refused',
    'account_deleted', 'account_exported')),
  user_id uuid,
  ip inet,
  details jsonb not null default '{}'
    check (jsonb_typeof(details) = 'object' and pg_column_size(details) <= 4096)
);
create index audit_events_occurred_idx on audit.events (occurred_at desc);
create index audit_events_kind_idx on audit.events (kind, occurred_at desc);
create index audit_events_user_idx on audit.events (user_id, occurred_at desc) where user_id is not null;

alter table audit.events enable row level security;
revoke all on audit.events from public, anon, authenticated;
grant select, delete on audit.events to service_role;
create policy "audit.events: service role only" on audit.events
  for all to service_role using (true) with check (true);

-- Record one event; returns whether it was recorded. A "not found" about a session
-- (details.code = 'SessionNotFound', details.session_id) counts only when that session exists and
-- belongs to someone else: a probe of another user's data, not a typo or a deleted session.
-- Nothing about the session is returned, so the caller learns nothing it could not see before.
create or replace function public.record_security_event(
  event_kind text,
  actor uuid default null,
  client_ip text default null,
  event_details jsonb default '{}'
) returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  address inet;
  target uuid;
begin
  if coalesce(event_details ->> 'code', '') = 'SessionNotFound' then
    begin
      target := (event_details ->> 'session_id')::uuid;
    exception when invalid_text_representation then
      return false;
    end;
    if not exists (select 1 from public.chat_sessions s
                    where s.id = target and s.user_id is distinct from actor) then
      return false;
    end if;
  end if;
  begin
    address := nullif(client_ip, '')::inet;
  exception when invalid_text_representation then
    address := null;
  end;
  insert into audit.events (kind, user_id, ip, details)
  values (event_kind, actor, address, coalesce(event_details, '{}'));
  return true;
end;
$$;

-- Forget events older than `older_than_seconds` (retention), at most `max_rows` per call.
create or replace function public.purge_security_events(older_than_seconds double precision, max_rows integer)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  with gone as (
    delete from audit.events e
     where e.id in (select o.id from audit.events o
                     where o.occurred_at < now() - make_interval(secs => older_than_seconds)
                     order by o.occurred_at limit max_rows)
    returning 1
  )
  select count(*)::int from gone
$$;

revoke execute on function public.record_security_event(text, uuid, text, jsonb) from public, anon, authenticated;
revoke execute on function public.purge_security_events(double precision, integer) from public, anon, authenticated;
grant execute on function public.record_security_event(text, uuid, text, jsonb) to service_role;
grant execute on function public.purge_security_events(double precision, integer) to service_role;
