-- Two-factor sign-in, enforced by the database: a user who turned it on (a verified MFA factor)
-- reaches their data only with an aal2 token, i.e. after entering the code. A stolen password
-- alone (an aal1 token) sees nothing and writes nothing through REST, Realtime, Storage or the
-- API's Postgres door, whatever the client does. Supabase's documented pattern, as RESTRICTIVE
-- policies so they narrow every existing per-verb policy without restating it. Users without a
-- verified factor are unaffected. New tables holding user data add the same policy.

create or replace function public.mfa_satisfied() returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(auth.jwt() ->> 'aal', 'aal1') = 'aal2'
      or not exists (
        select 1 from auth.mfa_factors f where f.user_id = auth.uid() and f.status = 'verified'
      )
$$;

comment on function public.mfa_satisfied() is
  'False while a user with a verified MFA factor holds only an aal1 token (signed in without the code).';

revoke execute on function public.mfa_satisfied() from public, anon;
grant execute on function public.mfa_satisfied() to authenticated, service_role;

create policy "profiles: two-factor users need aal2" on public.profiles
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "chat_sessions: two-factor users need aal2" on public.chat_sessions
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "chat_messages: two-factor users need aal2" on public.chat_messages
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "ai_roles: two-factor users need aal2" on public.ai_roles
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "objects: two-factor users need aal2" on storage.objects
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
create policy "messages: two-factor users need aal2" on realtime.messages
  as restrictive to authenticated
  using ((select public.mfa_satisfied())) with check ((select public.mfa_satisfied()));
