-- chat_sessions and chat_messages: the seed's columns plus what a streaming, multi-worker
-- design needs. An assistant row answers exactly one user row (`reply_to` is unique), so the
-- database guarantees one answer per question whatever the workers do.

create type public.message_type as enum ('user', 'assistant', 'system');
create type public.message_status as enum ('pending', 'streaming', 'completed', 'error', 'cancelled');

create table public.chat_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  role_id uuid references public.ai_roles (id) on delete set null,
  title varchar(200),
  is_active boolean not null default true,
  message_count integer not null default 0,
  last_message_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index chat_sessions_user_idx on public.chat_sessions (user_id, created_at desc);
create index chat_sessions_user_recent_idx on public.chat_sessions (user_id, last_message_at desc nulls last);
create index chat_sessions_active_idx on public.chat_sessions (is_active, last_message_at desc);

create trigger chat_sessions_touch_updated_at before update on public.chat_sessions
  for each row execute function public.touch_updated_at();

create table public.chat_messages (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.chat_sessions (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  message_type public.message_type not null default 'user',
  content text not null default '' check (char_length(content) <= 100000),
  role_id varchar(64),
  status public.message_status not null default 'completed',
  reply_to uuid unique references public.chat_messages (id) on delete cascade,
  model text,
  input_tokens integer check (input_tokens >= 0),
  output_tokens integer check (output_tokens >= 0),
  tokens_used integer not null default 0 check (tokens_used >= 0),
  response_time integer check (response_time >= 0),
  finish_reason text,
  error_code text,
  error_message text,
  lease_owner text,
  lease_expires_at timestamptz,
  attempts integer not null default 0,
  cancel_requested boolean not null default false,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default now(),
  constraint chat_messages_assistant_answers_one check ((message_type = 'assistant') = (reply_to is not null)),
  constraint chat_messages_user_text check (message_type <> 'user' or char_length(btrim(content)) > 0)
);
create index chat_messages_session_idx on public.chat_messages (session_id, created_at desc, id desc);
create index chat_messages_user_idx on public.chat_messages (user_id, created_at desc, id desc);
create index chat_messages_type_idx on public.chat_messages (message_type);
-- Unanswered work for the worker's sweep: assistant rows not yet final.
create index chat_messages_open_replies_idx on public.chat_messages (lease_expires_at)
  where status in ('pending', 'streaming');

create trigger chat_messages_touch_updated_at before update on public.chat_messages
  for each row execute function public.touch_updated_at();

-- A message belongs to its session's owner, whoever writes it (the user, or the worker as
-- service_role writing the assistant row).
create or replace function public.chat_messages_owner() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  owner uuid;
begin
  select s.user_id into owner from public.chat_sessions s where s.id = new.session_id;
  if owner is null then
    return new;  -- the foreign key reports the missing session
  end if;
  if new.user_id is null then
    new.user_id := owner;
  elsif new.user_id <> owner then
    raise exception 'message user_id must be the session owner'
      using errcode = '42501';
  end if;
  return new;
end;
$$;

create trigger chat_messages_owner before insert on public.chat_messages
  for each row execute function public.chat_messages_owner();

-- message_count, last_message_at and updated_at of a session follow its messages. Statement
-- triggers with transition tables: one session update per statement, even for bulk inserts.
create or replace function public.chat_sessions_count_inserted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.chat_sessions s
     set message_count = s.message_count + n.cnt,
         last_message_at = greatest(s.last_message_at, n.latest)
    from (select session_id, count(*)::int as cnt, max(created_at) as latest
            from inserted group by session_id) n
   where s.id = n.session_id;
  return null;
end;
$$;

create or replace function public.chat_sessions_count_deleted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.chat_sessions s
     set message_count = greatest(s.message_count - d.cnt, 0),
         last_message_at = (select max(m.created_at) from public.chat_messages m where m.session_id = s.id)
    from (select session_id, count(*)::int as cnt from deleted group by session_id) d
   where s.id = d.session_id;
  return null;
end;
$$;

create trigger chat_messages_count_inserted after insert on public.chat_messages
  referencing new table as inserted for each statement
  execute function public.chat_sessions_count_inserted();
create trigger chat_messages_count_deleted after delete on public.chat_messages
  referencing old table as deleted for each statement
  execute function public.chat_sessions_count_deleted();

alter table public.chat_sessions enable row level security;
alter table public.chat_messages enable row level security;

-- Sessions: a user sees and changes only their own, and may bind only roles they can read.
create policy "chat_sessions: owner reads" on public.chat_sessions
  for select to authenticated using (user_id = (select auth.uid()));
create policy "chat_sessions: owner creates" on public.chat_sessions
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and (role_id is null or exists (select 1 from public.ai_roles r where r.id = role_id))
  );
create policy "chat_sessions: owner updates" on public.chat_sessions
  for update to authenticated
  using (user_id = (select auth.uid()))
  with check (
    user_id = (select auth.uid())
    and (role_id is null or exists (select 1 from public.ai_roles r where r.id = role_id))
  );
create policy "chat_sessions: owner deletes" on public.chat_sessions
  for delete to authenticated using (user_id = (select auth.uid()));

-- Messages: a user reads their own, writes only `user` messages into their own sessions, may
-- ask an answer in flight to stop, and may delete their own. Assistant rows, token counts,
-- status and leases are the worker's (service_role) alone.
create policy "chat_messages: owner reads" on public.chat_messages
  for select to authenticated using (user_id = (select auth.uid()));
create policy "chat_messages: owner sends user messages" on public.chat_messages
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and message_type = 'user'
    and reply_to is null
    and exists (
      select 1 from public.chat_sessions s where s.id = session_id and s.user_id = (select auth.uid())
    )
  );
create policy "chat_messages: owner cancels answers in flight" on public.chat_messages
  for update to authenticated
  using (user_id = (select auth.uid()) and message_type = 'assistant' and status in ('pending', 'streaming'))
  with check (user_id = (select auth.uid()) and message_type = 'assistant');
create policy "chat_messages: owner deletes" on public.chat_messages
  for delete to authenticated using (user_id = (select auth.uid()));

revoke all on public.chat_sessions, public.chat_messages from anon;
revoke insert, update on public.chat_sessions, public.chat_messages from authenticated;
grant insert (id, user_id, role_id, title, is_active) on public.chat_sessions to authenticated;
grant update (role_id, title, is_active) on public.chat_sessions to authenticated;
grant insert (id, session_id, user_id, message_type, content, role_id) on public.chat_messages to authenticated;
grant update (cancel_requested) on public.chat_messages to authenticated;

alter publication supabase_realtime add table public.chat_messages, public.chat_sessions;
