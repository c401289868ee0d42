-- A pinned chat is one its user chose to keep, and the lifecycle jobs now leave it alone.
-- `archive_sessions` archived every idle session, pinned or not, so a chat pinned long ago left
-- the sidebar (archived chats stay in /history) although the user had pinned it there, and
-- `delete_archived_sessions` (`python -m ops archive --delete-after`) then deleted it with all its
-- messages. A pin made in /history on an archived chat changed nothing either: it stayed archived
-- and went the same way.
--
-- Now:
--   * archive_sessions skips pinned sessions (a pin made while it runs is seen by its row lock's
--     recheck: the session is not archived);
--   * delete_archived_sessions skips pinned sessions too, whatever put them in that state;
--   * pinning an archived session brings it back, as asking in it again does (archived_at null,
--     is_active true), in the pin's own update;
--   * pinned sessions archived before now come back the same way.
--
-- The bodies are 20261124000900_data_lifecycle.sql's, with `pinned_at is null`.

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
       and s.pinned_at is null
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
       and s.pinned_at is null
     order by s.archived_at
     limit greatest(max_sessions, 0)
       for update skip locked
  ), deleted as (
    delete from public.chat_sessions s using picked where s.id = picked.id returning 1
  )
  select count(*)::int from deleted
$$;

create function public.chat_sessions_pin_unarchives() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.archived_at := null;
  new.is_active := true;
  return new;
end;
$$;

create trigger chat_sessions_pin_unarchives before update of pinned_at on public.chat_sessions
  for each row when (new.pinned_at is not null and new.archived_at is not null)
  execute function public.chat_sessions_pin_unarchives();

revoke execute on function public.chat_sessions_pin_unarchives() from public, anon, authenticated;

update public.chat_sessions
   set archived_at = null, is_active = true
 where pinned_at is not null and archived_at is not null;
