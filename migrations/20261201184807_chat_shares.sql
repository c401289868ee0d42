-- Share links: a frozen copy of a conversation's path that anyone holding the link may read.
--
-- Guarantees:
--   * The snapshot is taken once, from the path root -> current leaf (chat_path) at share time:
--     later edits, answers and other branches never reach it. Only questions and finished answers
--     with text are copied; reasoning and attachments only when the owner asks for them.
--   * The link's token is 192 random bits (pgcrypto), returned once to the owner and stored only
--     as its SHA-256: a database dump cannot open a share.
--   * Reading goes through `read_share(token)` alone (security definer, for anon and signed-in
--     users); chat_shares itself is closed to anon, and owners read their own rows without the
--     hash. Deleting a share (revoking it) makes its link unreadable at once; deleting the session
--     deletes its shares.

create table public.chat_shares (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.chat_sessions (id) on delete cascade,
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  token_hash bytea not null unique check (octet_length(token_hash) = 32),
  title varchar(200),
  messages jsonb not null,
  include_reasoning boolean not null default false,
  include_attachments boolean not null default false,
  created_at timestamptz not null default now()
);
create index chat_shares_user_idx on public.chat_shares (user_id, created_at desc);
create index chat_shares_session_idx on public.chat_shares (session_id);

alter table public.chat_shares enable row level security;

create policy "chat_shares: owner reads" on public.chat_shares
  for select to authenticated using (user_id = (select auth.uid()));
create policy "chat_shares: owner revokes" on public.chat_shares
  for delete to authenticated using (user_id = (select auth.uid()));
-- No insert or update policy: shares are made by share_session() only and never change.

revoke all on public.chat_shares from anon, authenticated;
grant select (id, session_id, user_id, title, messages, include_reasoning, include_attachments, created_at)
  on public.chat_shares to authenticated;
grant delete on public.chat_shares to authenticated;

create or replace function public.share_token_hash(token text) returns bytea
language sql
immutable
set search_path = ''
as $$
  select sha256(convert_to(token, 'UTF8'))
$$;

-- Share the caller's session as it looks now; returns {id, token, created_at}. The token is shown
-- here once and never stored.
create or replace function public.share_session(
  session_id uuid, include_reasoning boolean default false, include_attachments boolean default false
) returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  conv public.chat_sessions;
  token text;
  made public.chat_shares;
begin
  select * into conv from public.chat_sessions s
   where s.id = share_session.session_id and s.user_id = auth.uid();
  if not found then
    raise exception 'SessionNotFound: no such session' using errcode = 'PT404';
  end if;
  token := rtrim(translate(encode(extensions.gen_random_bytes(24), 'base64'), '+/', '-_'), '=');
  insert into public.chat_shares (session_id, user_id, token_hash, title, messages, include_reasoning,
                                  include_attachments)
  select conv.id, conv.user_id, public.share_token_hash(token), conv.title,
         coalesce(jsonb_agg(
           jsonb_strip_nulls(jsonb_build_object(
             'type', m.message_type,
             'content', m.content,
             'model', m.model,
             'created_at', m.created_at,
             'reasoning', case when share_session.include_reasoning then to_jsonb(m) -> 'reasoning' end,
             'attachments', case when share_session.include_attachments then to_jsonb(m) -> 'attachments' end))
           order by m.ord), '[]'::jsonb),
         share_session.include_reasoning, share_session.include_attachments
    from (select p.*, row_number() over () as ord from public.chat_path(conv.id) p) m
   where m.message_type = 'user'
      or (m.message_type = 'assistant' and m.status in ('completed', 'cancelled') and m.content <> '')
  returning * into made;
  return jsonb_build_object('id', made.id, 'token', token, 'created_at', made.created_at);
end;
$$;

-- The shared conversation behind a link, or null (unknown, malformed or revoked token): {title,
-- created_at, messages}. Never says whose it is or which session it came from.
create or replace function public.read_share(token text) returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object('title', s.title, 'created_at', s.created_at, 'messages', s.messages,
                            'include_reasoning', s.include_reasoning,
                            'include_attachments', s.include_attachments)
    from public.chat_shares s
   where read_share.token ~ '^[A-Za-z0-9_-]{16,64}$'
     and s.token_hash = public.share_token_hash(read_share.token)
$$;

revoke execute on function public.share_token_hash(text) from public, anon, authenticated;
revoke execute on function public.share_session(uuid, boolean, boolean) from public, anon;
revoke execute on function public.read_share(text) from public;
grant execute on function public.share_session(uuid, boolean, boolean) to authenticated;
grant execute on function public.read_share(text) to anon, authenticated, service_role;
