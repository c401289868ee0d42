-- A user's other tabs and devices follow deletes, and the session list, live.
--
-- The web app hears its open conversation's rows through postgres_changes filtered on session_id,
-- but Realtime cannot filter a DELETE on a column outside the replica identity: chat_messages is
-- not REPLICA IDENTITY FULL (FULL would put the whole old row, the answer's text, in the WAL at
-- every streamed update), so a filtered subscription never hears a delete, and a turn deleted in
-- one tab stayed on screen in the others until their next read. Nothing told the session list of
-- another tab either that a chat was deleted, renamed, pinned or archived (only the open session's
-- row is heard). So the database says it on private channels, with realtime.send (a row of
-- realtime.messages, which Realtime broadcasts; hosted Supabase reads it from the WAL, localbase
-- from a NOTIFY):
--
-- * rows deleted from a conversation (a turn, its answers, a branch): event `deleted` {ids} on
--   `chat:<session>` (private; its owner may read it, 20261124000500), one broadcast per session
--   and statement. Rows deleted with their session send nothing there: the session's own
--   broadcast says it, and a long conversation's ids would only make it heavy.
-- * sessions deleted: event `sessions_deleted` {ids} on `user:<user id>`, one per user and
--   statement (none for a user deleted with them: nobody is left to tell).
-- * a session renamed, pinned, unpinned, archived or brought back: event `session` {row} on
--   `user:<user id>`, the columns the list shows for it.
--
-- Cost: the deletes are statement triggers with a transition table, so nothing on insert or
-- update; the session trigger fires only when title, pinned_at or archived_at are in the SET list
-- and changed (its WHEN is three comparisons), never for a streamed answer.
--
-- realtime.send runs as its caller (a user deleting through PostgREST is `authenticated`, who may
-- not write broadcasts): these functions are SECURITY DEFINER, owned by the migration role, which
-- bypasses RLS. realtime.send swallows its own errors (a WARNING), so a broadcast lost never
-- fails the delete; a tab that missed it still reads the truth at its next read.

create or replace function public.chat_messages_broadcast_deletes() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  gone record;
begin
  for gone in
    select o.session_id, jsonb_agg(o.id order by o.id) as ids
      from deleted_rows o
     where exists (select 1 from public.chat_sessions s where s.id = o.session_id)
     group by o.session_id
  loop
    perform realtime.send(jsonb_build_object('ids', gone.ids), 'deleted', 'chat:' || gone.session_id::text, true);
  end loop;
  return null;
end;
$$;
revoke execute on function public.chat_messages_broadcast_deletes() from public, anon, authenticated;

create trigger chat_messages_broadcast_deletes after delete on public.chat_messages
  referencing old table as deleted_rows
  for each statement execute function public.chat_messages_broadcast_deletes();

create or replace function public.chat_sessions_broadcast_deletes() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  gone record;
begin
  for gone in
    select o.user_id, jsonb_agg(o.id order by o.id) as ids
      from deleted_rows o
     where exists (select 1 from auth.users u where u.id = o.user_id)
     group by o.user_id
  loop
    perform realtime.send(jsonb_build_object('ids', gone.ids), 'sessions_deleted', 'user:' || gone.user_id::text, true);
  end loop;
  return null;
end;
$$;
revoke execute on function public.chat_sessions_broadcast_deletes() from public, anon, authenticated;

create trigger chat_sessions_broadcast_deletes after delete on public.chat_sessions
  referencing old table as deleted_rows
  for each statement execute function public.chat_sessions_broadcast_deletes();

-- The payload's key is `row`, not `id`: realtime.send keeps a payload's own `id` as the message's.
create or replace function public.chat_sessions_broadcast_listing() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object('row', jsonb_build_object(
      'id', new.id, 'title', new.title, 'pinned_at', new.pinned_at, 'archived_at', new.archived_at)),
    'session', 'user:' || new.user_id::text, true);
  return null;
end;
$$;
revoke execute on function public.chat_sessions_broadcast_listing() from public, anon, authenticated;

create trigger chat_sessions_broadcast_listing after update of title, pinned_at, archived_at on public.chat_sessions
  for each row
  when (old.title is distinct from new.title
        or old.pinned_at is distinct from new.pinned_at
        or old.archived_at is distinct from new.archived_at)
  execute function public.chat_sessions_broadcast_listing();

-- `user:<id>`: its user may join it (read broadcasts) and nobody may write on it (no insert
-- policy: only the database speaks there). Presence is not read there.
create policy "user channel: owner receives" on realtime.messages
  for select to authenticated
  using (extension = 'broadcast' and (select realtime.topic()) = 'user:' || (select auth.uid())::text);
