-- Data lifecycle: sessions idle for longer than an operator's chosen age are archived (hidden
-- from the default session list, kept with all their messages, counts untouched), and archived
-- sessions may later be deleted (messages go with them by cascade; the count triggers keep the
-- totals right). A new question in an archived session brings it back. Run by service_role
-- (`python -m ops archive`) in bounded batches so no statement holds locks for long.

alter table public.chat_sessions add column archived_at timestamptz;

create index chat_sessions_idle_idx on public.chat_sessions ((coalesce(last_message_at, created_at)))
  where archived_at is null;
create index chat_sessions_archived_idx on public.chat_sessions (archived_at) where archived_at is not null;

-- Archive at most `max_sessions` sessions whose last message (or creation, if empty) is older
-- than `older_than_seconds`; returns how many were archived.
create or replace function public.archive_sessions(older_than_seconds double precision, max_sessions integer)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  with picked as (
    select s.id from public.chat_sessions s
     where s.archived_at is null
       and coalesce(s.last_message_at, s.created_at) < now() - make_interval(secs => older_than_seconds)
     order by coalesce(s.last_message_at, s.created_at)
     limit greatest(max_sessions, 0)
       for update skip locked
  ), archived as (
    update public.chat_sessions s
       set archived_at = now(), is_active = false
      from picked
     where s.id = picked.id
    returning 1
  )
  select count(*)::int from archived
$$;

-- Delete at most `max_sessions` sessions archived more than `archived_for_seconds` ago, with
-- their messages; returns how many sessions were deleted.
create or replace function public.delete_archived_sessions(archived_for_seconds double precision, max_sessions integer)
returns integer
language sql
volatile
security definer
set search_path = ''
as $$
  with picked as (
    select s.id from public.chat_sessions s
     where s.archived_at < now() - make_interval(secs => archived_for_seconds)
     order by s.archived_at
     limit greatest(max_sessions, 0)
       for update skip locked
  ), deleted as (
    delete from public.chat_sessions s using picked where s.id = picked.id returning 1
  )
  select count(*)::int from deleted
$$;

-- A user who asks again in an archived session wants it back.
create or replace function public.chat_sessions_unarchive() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.chat_sessions s
     set archived_at = null, is_active = true
   where s.archived_at is not null
     and s.id in (select n.session_id from inserted n where n.message_type = 'user');
  return null;
end;
$$;

create trigger chat_messages_unarchive after insert on public.chat_messages
  referencing new table as inserted for each statement
  execute function public.chat_sessions_unarchive();

revoke execute on function public.archive_sessions(double precision, integer) from public, anon, authenticated;
revoke execute on function public.delete_archived_sessions(double precision, integer)
  from public, anon, authenticated;
revoke execute on function public.chat_sessions_unarchive() from public, anon, authenticated;
grant execute on function public.archive_sessions(double precision, integer) to service_role;
grant execute on function public.delete_archived_sessions(double precision, integer) to service_role;
