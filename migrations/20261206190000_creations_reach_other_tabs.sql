-- A chat created in one tab, on another device, by a branch or copy (chat_branch), or by the API's
-- OpenAI-compatible door (a chat per key and day) reaches the user's other tabs live.
--
-- 20261206182000 broadcasts deletes, renames, pins and archives on the private `user:<user id>`,
-- but nothing said a chat was made: the other tabs' lists showed it only after a reload. Now a
-- statement inserting sessions sends event `sessions_created` {rows, more} there, one broadcast
-- per user and statement (a bulk insert sends one message per user, not one per row):
--
-- * rows: the columns the list reads for a chat (web/src/lib/sessions.ts SESSION_COLUMNS), as
--   they stand when the statement ends: a branch's copy of the conversation is written after its
--   session row, so its message_count and last_message_at still read 0 and null there (the list
--   sorts it by created_at, the top, which is where its first activity puts it too);
-- * at most 100 rows per broadcast (newest first), so one statement making many chats cannot
--   exceed Realtime's payload limit; `more` is true when some were left out, and the listener
--   reads its list again instead.
--
-- Cost: a statement trigger with a transition table (nothing per row). The hot path makes no
-- session: a turn inserts messages and updates its session, and /v1 makes one session per key and
-- UTC day. As for the other broadcasts, the function is SECURITY DEFINER (realtime.send runs as
-- its caller, and a user creating through PostgREST may not write broadcasts), and realtime.send
-- swallows its own errors (a WARNING): a broadcast lost never fails the insert; a tab that missed
-- it reads the truth at its next read (the web reads its list again whenever its channel joins).
create or replace function public.chat_sessions_broadcast_creates() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  made record;
begin
  for made in
    select n.user_id,
           jsonb_agg(jsonb_build_object(
             'id', n.id, 'role_id', n.role_id, 'title', n.title, 'message_count', n.message_count,
             'last_message_at', n.last_message_at, 'archived_at', n.archived_at, 'model', n.model,
             'thinking', n.thinking, 'current_leaf_id', n.current_leaf_id, 'branched', n.branched,
             'pinned_at', n.pinned_at, 'created_at', n.created_at, 'api_day', n.api_day)
             order by n.created_at desc, n.id) filter (where n.rank <= 100) as rows,
           count(*) > 100 as more
      from (select r.*, row_number() over (partition by r.user_id order by r.created_at desc, r.id) as rank
              from created_rows r) n
     group by n.user_id
  loop
    perform realtime.send(
      jsonb_build_object('rows', made.rows, 'more', made.more), 'sessions_created',
      'user:' || made.user_id::text, true);
  end loop;
  return null;
end;
$$;
revoke execute on function public.chat_sessions_broadcast_creates() from public, anon, authenticated;

create trigger chat_sessions_broadcast_creates after insert on public.chat_sessions
  referencing new table as created_rows
  for each statement execute function public.chat_sessions_broadcast_creates();
