-- Guests (anonymous sign-ins) may try the product, within limits the database enforces:
-- at most 20 questions stored at a time and no custom AI roles. The JWT's `is_anonymous` claim
-- tells a guest apart (Supabase's documented pattern); the limits are RESTRICTIVE policies, so
-- they narrow the existing per-verb policies without restating them. A guest who signs up
-- (adds an email) gets a token without the claim and the limits no longer apply.

create or replace function public.is_guest() returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce((auth.jwt() ->> 'is_anonymous')::boolean, false)
$$;

comment on function public.is_guest() is 'Whether the caller signed in anonymously (JWT claim is_anonymous).';

create or replace function public.guest_message_limit() returns integer
language sql
immutable
set search_path = ''
as $$ select 20 $$;

-- How many more questions the caller may ask as a guest; null for a signed-up user.
create or replace function public.guest_messages_left() returns integer
language sql
stable
set search_path = ''
as $$
  select case when public.is_guest() then greatest(0, public.guest_message_limit() - (
    select count(*)::integer from public.chat_messages m
     where m.user_id = (select auth.uid()) and m.message_type = 'user'))
  end
$$;

create policy "chat_messages: guests ask at most the guest limit" on public.chat_messages
  as restrictive for insert to authenticated
  with check (not (select public.is_guest()) or (select public.guest_messages_left()) > 0);

create policy "ai_roles: guests create none" on public.ai_roles
  as restrictive for insert to authenticated
  with check (not (select public.is_guest()));

revoke execute on function public.guest_messages_left() from public, anon;
grant execute on function public.guest_messages_left() to authenticated;
