-- Guests who never signed up, swept. An anonymous sign-in (the "try without an account" button)
-- makes a real auth.users row, and with it a profile, a plan and whatever the guest asked; nothing
-- removed them, so every visitor who tried the product once stayed forever (Supabase leaves that
-- clean-up to the project). `delete_stale_guests` deletes, in bounded batches, anonymous users
-- with no sign-in, no token refresh and no message for longer than a given idle time (at least a
-- day: a guest may come back tomorrow to the chats they started). Deleting the user is deleting
-- the account: profile, plan, sessions, messages, ledger and API data cascade, and their files go
-- with `delete_user_objects`, as for an account deletion. A guest who converted (signed up from
-- the guest session) is no longer anonymous and is never touched. Run from cron like the other
-- lifecycle jobs: `python -m ops stale-guests --idle-for 30d`.

create or replace function public.delete_stale_guests(idle_seconds double precision, max_users integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  cutoff timestamptz;
  deleted integer;
begin
  if idle_seconds is null or idle_seconds < 86400 then
    perform public.raise_refusal(400, 'ValidationError',
      'idle_seconds must be at least 86400: a guest may come back tomorrow to the chats they started.',
      jsonb_build_object('field', 'idle_seconds'));
  end if;
  cutoff := now() - make_interval(secs => idle_seconds);
  with stale as (
    select u.id
      from auth.users u
     where u.is_anonymous
       and u.created_at < cutoff
       and coalesce(u.last_sign_in_at, u.created_at) < cutoff
       and not exists (select 1 from auth.sessions s where s.user_id = u.id and s.updated_at >= cutoff)
       and not exists (select 1 from public.chat_messages m where m.user_id = u.id and m.created_at >= cutoff)
     order by u.created_at
     limit greatest(coalesce(max_users, 0), 0)
       for update of u skip locked
  ), gone as (
    delete from auth.users u using stale where u.id = stale.id returning 1
  )
  select count(*)::int into deleted from gone;
  return deleted;
end;
$$;

revoke execute on function public.delete_stale_guests(double precision, integer) from public, anon, authenticated;
grant execute on function public.delete_stale_guests(double precision, integer) to service_role;
