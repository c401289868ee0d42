-- The admin audit trail and API keys.
--
-- Admin actions: every change an admin makes through RLS (a user's plan or account state, the
-- plan catalogue and weights, the built-in roles) is recorded by a trigger as an
-- `audit.events` row of kind `admin_action`, in the same transaction, so no door can change
-- them unrecorded. The API records the admin's reads (lists, usage) the same way.
--
-- API keys: shown once at creation, stored only as their SHA-256 (a 192-bit random secret needs
-- no slow hash), with a visible prefix, optional expiry and a last-used time. The API resolves a
-- key through `api_key_identity` (the only door to the hashes) and then acts as the key's user
-- with a short-lived JWT, so RLS and the plan apply exactly as for the web app.

alter table audit.events drop constraint events_kind_check;
alter table audit.events add constraint events_kind_check check (kind in (
  'login_failed', 'rate_limited', 'refresh_token_reuse', 'permission_denied', 'ws_refused',
  'account_deleted', 'account_exported', 'admin_action'));

create or replace function public.audit_admin_change() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  before jsonb := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
  after jsonb := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
  changed jsonb := '{}';
  k text;
begin
  if tg_op = 'UPDATE' then
    for k in select jsonb_object_keys(after) loop
      if k not in ('updated_at', 'day_start', 'day_used', 'month_start', 'month_used')
         and before -> k is distinct from after -> k then
        changed := changed || jsonb_build_object(k, jsonb_build_array(before -> k, after -> k));
      end if;
    end loop;
    if changed = '{}' then
      return null;
    end if;
  end if;
  insert into audit.events (kind, user_id, details)
  values ('admin_action', auth.uid(), jsonb_build_object(
    'action', lower(tg_op), 'table', tg_table_name,
    'target', coalesce(after, before) ->> (case tg_table_name when 'user_plans' then 'user_id'
                                                              when 'usage_weights' then 'model'
                                                              else 'id' end),
    'changes', case when tg_op = 'UPDATE' then changed
                    else left(coalesce(after, before)::text, 3000)::jsonb end,
    'by', coalesce(auth.role(), current_user)));
  return null;
exception when invalid_text_representation then
  -- a huge row: record the action without its contents
  insert into audit.events (kind, user_id, details)
  values ('admin_action', auth.uid(), jsonb_build_object('action', lower(tg_op), 'table', tg_table_name));
  return null;
end;
$$;

create trigger user_plans_audit after update of plan_id, disabled on public.user_plans
  for each row execute function public.audit_admin_change();
create trigger plans_audit after insert or update or delete on public.plans
  for each row execute function public.audit_admin_change();
create trigger usage_weights_audit after insert or update or delete on public.usage_weights
  for each row execute function public.audit_admin_change();
create trigger ai_roles_builtin_insert_audit after insert on public.ai_roles
  for each row when (new.created_by is null) execute function public.audit_admin_change();
create trigger ai_roles_builtin_update_audit after update on public.ai_roles
  for each row when (old.created_by is null or new.created_by is null) execute function public.audit_admin_change();
create trigger ai_roles_builtin_delete_audit after delete on public.ai_roles
  for each row when (old.created_by is null) execute function public.audit_admin_change();

-- An admin's read through the API (list users, see usage): recorded by the API with the
-- admin's own JWT; refused to anyone else.
create or replace function public.audit_admin_read(action text, target uuid default null, details jsonb default '{}')
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if not public.is_admin() then
    raise exception 'only admins record admin reads' using errcode = '42501';
  end if;
  insert into audit.events (kind, user_id, details)
  values ('admin_action', auth.uid(), jsonb_build_object(
    'action', left(action, 100), 'target', target, 'changes', coalesce(details, '{}'), 'by', 'authenticated'));
end;
$$;

create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (char_length(btrim(name)) between 1 and 100),
  prefix text not null,
  key_hash bytea not null unique,
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  created_at timestamptz not null default now()
);
create index api_keys_user_idx on public.api_keys (user_id, created_at desc);

alter table public.api_keys enable row level security;
create policy "api_keys: owner reads" on public.api_keys for select to authenticated
  using (user_id = (select auth.uid()));
create policy "api_keys: owner deletes" on public.api_keys for delete to authenticated
  using (user_id = (select auth.uid()) and revoked_at is not null);

revoke all on public.api_keys from anon, authenticated;
grant select (id, user_id, name, prefix, expires_at, last_used_at, revoked_at, created_at) on public.api_keys
  to authenticated;
grant delete on public.api_keys to authenticated;

-- Create a key for the caller; the only time the secret exists outside the caller's hands.
create or replace function public.create_api_key(key_name text, expires_at timestamptz default null)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  me uuid := auth.uid();
  secret text;
  made public.api_keys%rowtype;
begin
  if me is null or auth.role() is distinct from 'authenticated' then
    raise exception 'sign in to create API keys' using errcode = '42501';
  end if;
  if coalesce(auth.jwt() -> 'app_metadata' ->> 'provider', '') = 'api_key' then
    raise exception 'an API key cannot create API keys' using errcode = '42501';
  end if;
  if key_name is null or char_length(btrim(key_name)) not between 1 and 100 then
    perform public.raise_refusal(400, 'ValidationError', 'A key needs a name of 1 to 100 characters.',
                                 jsonb_build_object('field', 'name'));
  end if;
  if expires_at is not null and expires_at <= now() then
    perform public.raise_refusal(400, 'ValidationError', 'The expiry must be in the future.',
                                 jsonb_build_object('field', 'expires_at'));
  end if;
  if (select count(*) from public.api_keys k where k.user_id = me and k.revoked_at is null) >= 20 then
    perform public.raise_refusal(409, 'TooManyKeys', 'You have 20 active keys; revoke one first.');
  end if;
  secret := 'sk-cg-' || encode(extensions.gen_random_bytes(24), 'hex');
  insert into public.api_keys (user_id, name, prefix, key_hash, expires_at)
  values (me, btrim(key_name), left(secret, 12), sha256(convert_to(secret, 'UTF8')), create_api_key.expires_at)
  returning * into made;
  return jsonb_build_object('id', made.id, 'name', made.name, 'prefix', made.prefix, 'key', secret,
                            'expires_at', made.expires_at, 'created_at', made.created_at);
end;
$$;

-- Revoke one of the caller's keys; returns whether a live key was revoked.
create or replace function public.revoke_api_key(key_id uuid) returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
  with revoked as (
    update public.api_keys k set revoked_at = now()
     where k.id = key_id and k.user_id = auth.uid() and k.revoked_at is null
    returning 1
  )
  select exists (select 1 from revoked)
$$;

-- The one door to the hashes: who a presented key acts for, and whether it may. Unknown keys
-- return no row. A live key's last_used_at is refreshed at most once a minute.
create or replace function public.api_key_identity(presented text)
returns table (key_id uuid, user_id uuid, key_name text, status text)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  found_key public.api_keys%rowtype;
begin
  select * into found_key from public.api_keys k where k.key_hash = sha256(convert_to(presented, 'UTF8'));
  if not found then
    return;
  end if;
  key_id := found_key.id;
  user_id := found_key.user_id;
  key_name := found_key.name;
  status := case when found_key.revoked_at is not null then 'revoked'
                 when found_key.expires_at is not null and found_key.expires_at <= now() then 'expired'
                 else 'active' end;
  if status = 'active' and (found_key.last_used_at is null or found_key.last_used_at < now() - interval '1 minute') then
    update public.api_keys k set last_used_at = now() where k.id = found_key.id;
  end if;
  return next;
end;
$$;

revoke execute on function public.audit_admin_change() from public, anon, authenticated;
revoke execute on function public.audit_admin_read(text, uuid, jsonb) from public, anon;
revoke execute on function public.create_api_key(text, timestamptz) from public, anon;
revoke execute on function public.revoke_api_key(uuid) from public, anon;
revoke execute on function public.api_key_identity(text) from public, anon, authenticated;
grant execute on function public.audit_admin_read(text, uuid, jsonb) to authenticated;
grant execute on function public.create_api_key(text, timestamptz) to authenticated;
grant execute on function public.revoke_api_key(uuid) to authenticated;
grant execute on function public.api_key_identity(text) to service_role;

-- Requests through a key land in one session per key and UTC day (unless they name a session).
alter table public.chat_sessions add column api_key_id uuid references public.api_keys (id) on delete set null;
alter table public.chat_sessions add column api_day date;
create unique index chat_sessions_api_day_key on public.chat_sessions (api_key_id, api_day);
grant insert (api_key_id, api_day) on public.chat_sessions to authenticated;
-- A session may be tied only to the caller's own key.
create policy "chat_sessions: own keys only" on public.chat_sessions
  as restrictive for insert to authenticated
  with check (api_key_id is null
              or exists (select 1 from public.api_keys k where k.id = api_key_id and k.user_id = (select auth.uid())));
