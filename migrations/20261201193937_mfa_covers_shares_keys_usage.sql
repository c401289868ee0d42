-- Two-factor sign-in covers what landed beside it: share links, API keys and usage. Without this
-- an aal1 token (a stolen password, no code) could mint an API key or share a conversation through
-- their SECURITY DEFINER functions, and so read everything the second factor protects.
-- - RESTRICTIVE aal2 policies on the user-data tables added since `mfa_requires_aal2`;
-- - BEFORE INSERT triggers on api_keys and chat_shares, which fire inside the definer functions
--   too (a policy would not: the functions run as the tables' owner);
-- - an API key's own token passes: a key can only be created at full assurance (the trigger), so
--   the key itself is the second factor's proof, as a personal access token is elsewhere.

create or replace function public.mfa_satisfied() returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(auth.jwt() ->> 'aal', 'aal1') = 'aal2'
      or coalesce(auth.jwt() -> 'app_metadata' ->> 'provider', '') = 'api_key'
      or not exists (
        select 1 from auth.mfa_factors f where f.user_id = auth.uid() and f.status = 'verified'
      )
$$;

create policy "chat_shares: two-factor users need aal2" on public.chat_shares
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "api_keys: two-factor users need aal2" on public.api_keys
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "usage_ledger: two-factor users need aal2" on public.usage_ledger
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "user_plans: two-factor users need aal2" on public.user_plans
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));

create or replace function public.refuse_without_second_factor() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not public.mfa_satisfied() then
    raise exception 'enter your two-factor code first (aal2 required)' using errcode = '42501';
  end if;
  return new;
end;
$$;

revoke execute on function public.refuse_without_second_factor() from public, anon, authenticated;

create trigger api_keys_need_second_factor before insert on public.api_keys
  for each row execute function public.refuse_without_second_factor();
create trigger chat_shares_need_second_factor before insert on public.chat_shares
  for each row execute function public.refuse_without_second_factor();
