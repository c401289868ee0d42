-- An API key named by its caller: `create_api_key(name, expires_at, key_id)` stores the key under
-- the id the caller chose, and an id that is already taken (by any key, the caller's or another
-- user's) is refused as `KeyIdTaken` (409) before anything else is checked or stored, so a repeat
-- never meets the 20-key limit its first attempt reached. Nothing about the key it names is told.
--
-- Why: the secret exists only in create_api_key's answer (the table keeps its hash). The web app
-- names each new key (a UUID it made) and, when that answer was lost, sends the same call again:
-- refused as taken, the first attempt was stored and its secret is gone with the answer, so the
-- page revokes that key (nobody ever saw its secret) and makes another one under a new name
-- (web/src/lib/storeOnce.ts, `createShownOnce`). A first attempt that lands late meets the taken
-- name and stores nothing. Without `key_id` it is the function it was (a fresh id).
--
-- The body is 20261201191601_admin_api_keys.sql's, with the id.

drop function public.create_api_key(text, timestamptz);

create function public.create_api_key(key_name text, expires_at timestamptz default null, key_id uuid default null)
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

revoke execute on function public.create_api_key(text, timestamptz, uuid) from public, anon;
grant execute on function public.create_api_key(text, timestamptz, uuid) to authenticated;
