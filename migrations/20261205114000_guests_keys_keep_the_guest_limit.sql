-- A guest's API key no longer lifts the guest limit. Guests (anonymous sign-ins) may store at most
-- 20 questions, a limit keyed on the JWT's `is_anonymous` claim; `create_api_key` let a guest make
-- a key, and the API's tokens for a key always said `is_anonymous: false`, so through /v1 a guest
-- asked without limit.
--
-- Now a guest cannot create a key: `GuestNotAllowed` (403), nothing stored. `api_key_identity`
-- also returns the key's user's `is_anonymous` (auth.users, read at each request), which the API
-- copies into the key's token: a key a guest made before is held to the guest limit, and a guest
-- who signs up keeps their key without it.
--
-- create_api_key's body is 20261204150000_keys_named_by_their_caller.sql's, with the guest check;
-- api_key_identity's is 20261201191601_admin_api_keys.sql's, with `is_anonymous` (a new result
-- column: dropped and created again, with its grants).

create or replace function public.create_api_key(key_name text, expires_at timestamptz default null, key_id uuid default null)
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
  if public.is_guest() then
    perform public.raise_refusal(403, 'GuestNotAllowed', 'Sign up to create API keys; guests have none.');
  end if;
  if exists (select 1 from public.api_keys k where k.id = create_api_key.key_id) then
    perform public.raise_refusal(409, 'KeyIdTaken', 'A key with this id exists already.',
                                 jsonb_build_object('field', 'key_id'));
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
  begin
    insert into public.api_keys (id, user_id, name, prefix, key_hash, expires_at)
    values (coalesce(create_api_key.key_id, gen_random_uuid()), me, btrim(key_name), left(secret, 12),
            sha256(convert_to(secret, 'UTF8')), create_api_key.expires_at)
    returning * into made;
  exception when unique_violation then
    -- Two calls with the same id at once: the other one stored it.
    if create_api_key.key_id is not null and exists (select 1 from public.api_keys k where k.id = create_api_key.key_id) then
      perform public.raise_refusal(409, 'KeyIdTaken', 'A key with this id exists already.',
                                   jsonb_build_object('field', 'key_id'));
    end if;
    raise;
  end;
  return jsonb_build_object('id', made.id, 'name', made.name, 'prefix', made.prefix, 'key', secret,
                            'expires_at', made.expires_at, 'created_at', made.created_at);
end;
$$;

drop function public.api_key_identity(text);

-- The one door to the hashes: who a presented key acts for, whether that user is a guest, and
-- whether it may. Unknown keys return no row. A live key's last_used_at is refreshed at most once a minute.
create function public.api_key_identity(presented text)
returns table (key_id uuid, user_id uuid, key_name text, status text, is_anonymous boolean)
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
  is_anonymous := coalesce((select u.is_anonymous from auth.users u where u.id = found_key.user_id), false);
  if status = 'active' and (found_key.last_used_at is null or found_key.last_used_at < now() - interval '1 minute') then
    update public.api_keys k set last_used_at = now() where k.id = found_key.id;
  end if;
  return next;
end;
$$;

revoke execute on function public.api_key_identity(text) from public, anon, authenticated;
grant execute on function public.api_key_identity(text) to service_role, authenticator;
