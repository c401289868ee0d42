-- A share of an account an admin disabled (abuse, fraud) no longer reads: while
-- `user_plans.disabled` is set, `read_share` answers its links as it answers a revoked or unknown
-- one (null), so nothing tells the reader why, and the same links read again once the account is
-- enabled (nothing is deleted). Every door that reads a share (the REST RPC, GET /api/share/{token},
-- the web app's shared page) calls this function, so all of them follow. An account without a
-- user_plans row is not disabled.
--
-- The body is 20261201184807_chat_shares.sql's, with the account's state.

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
     and not exists (select 1 from public.user_plans p where p.user_id = s.user_id and p.disabled)
$$;

revoke execute on function public.read_share(text) from public;
grant execute on function public.read_share(text) to anon, authenticated, service_role;
