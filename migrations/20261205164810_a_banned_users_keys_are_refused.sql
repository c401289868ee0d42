-- A user an operator banned (GoTrue's `banned_until`, set through Supabase's admin API with
-- `ban_duration`) kept using their API keys: Auth refuses the ban's sign-ins and refreshes, but
-- `api_key_identity` read only the key's own revocation and expiry, so every key of the user went on
-- sending, and charging, until someone revoked them one by one.
--
-- Now the key's status is `banned` while its user's ban lasts (read at each request, as
-- `is_anonymous` is), after `revoked` and `expired`: the API refuses it at once (403
-- account_banned), counts no send for it and does not refresh its last_used_at. When the ban is
-- lifted (or runs out) the key works again, as the user's sign-ins do; a ban never revokes a key.
--
-- api_key_identity's body is 20261205114000_guests_keys_keep_the_guest_limit.sql's, with the ban.

create or replace function public.api_key_identity(presented text)
returns table (key_id uuid, user_id uuid, key_name text, status text, is_anonymous boolean)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  found_key public.api_keys%rowtype;
  owner auth.users%rowtype;
begin
  select * into found_key from public.api_keys k where k.key_hash = sha256(convert_to(presented, 'UTF8'));
  if not found then
    return;
  end if;
  select * into owner from auth.users u where u.id = found_key.user_id;
  key_id := found_key.id;
  user_id := found_key.user_id;
  key_name := found_key.name;
  status := case when found_key.revoked_at is not null then 'revoked'
                 when found_key.expires_at is not null and found_key.expires_at <= now() then 'expired'
                 when owner.banned_until is not null and owner.banned_until > now() then 'banned'
                 else 'active' end;
  is_anonymous := coalesce(owner.is_anonymous, false);
  if status = 'active' and (found_key.last_used_at is null or found_key.last_used_at < now() - interval '1 minute') then
    update public.api_keys k set last_used_at = now() where k.id = found_key.id;
  end if;
  return next;
end;
$$;

revoke execute on function public.api_key_identity(text) from public, anon, authenticated;
grant execute on function public.api_key_identity(text) to service_role, authenticator;
