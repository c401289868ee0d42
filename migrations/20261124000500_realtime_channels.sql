-- Streamed answers travel on private Realtime channels `chat:<session id>`. Realtime authorizes
-- a private join by reading realtime.messages under the joiner's JWT; these policies let only the
-- session's owner read (receive broadcast chunks, see presence) and track presence. Writing
-- broadcasts is left to service_role (the worker), which bypasses RLS.

create or replace function public.chat_topic_owned(topic text) returns boolean
language sql stable
security definer
set search_path = ''
as $$
  select topic like 'chat:%'
     and exists (
       select 1 from public.chat_sessions s
        where s.id::text = substr(topic, 6) and s.user_id = auth.uid()
     )
$$;
revoke execute on function public.chat_topic_owned(text) from public, anon;
grant execute on function public.chat_topic_owned(text) to authenticated, service_role;

create policy "chat channel: owner receives" on realtime.messages
  for select to authenticated
  using (extension in ('broadcast', 'presence') and public.chat_topic_owned((select realtime.topic())));

create policy "chat channel: owner tracks presence" on realtime.messages
  for insert to authenticated
  with check (extension = 'presence' and public.chat_topic_owned((select realtime.topic())));
