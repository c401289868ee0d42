-- A share link named by its caller: `share_session(session, reasoning, attachments, share_id)`
-- stores the share under the id the caller chose, and an id that is already taken (the caller's
-- share or another user's) is refused as `ShareIdTaken` (409) before anything else is read or
-- stored. Nothing about the share it names is told.
--
-- Why: as with an API key (20261204150000_keys_named_by_their_caller.sql), the link's token exists
-- only in share_session's answer (the table keeps its hash). The web app names each new link and,
-- when the answer was lost, sends the same call again: refused as taken, the first attempt was
-- stored and its token is gone, so the page deletes that share and makes another one under a new
-- name (web/src/lib/storeOnce.ts, `createShownOnce`). The conversation's links are then the ones
-- its owner was shown. Without `share_id` it is the function it was (a fresh id).
--
-- The body is 20261201184807_chat_shares.sql's, with the id.

drop function public.share_session(uuid, boolean, boolean);

create function public.share_session(
  session_id uuid, include_reasoning boolean default false, include_attachments boolean default false,
  share_id uuid default null
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
  if exists (select 1 from public.chat_shares s where s.id = share_session.share_id) then
    perform public.raise_refusal(409, 'ShareIdTaken', 'A share link with this id exists already.',
                                 jsonb_build_object('field', 'share_id'));
  end if;
  select * into conv from public.chat_sessions s
   where s.id = share_session.session_id and s.user_id = auth.uid();
  if not found then
    raise exception 'SessionNotFound: no such session' using errcode = 'PT404';
  end if;
  token := rtrim(translate(encode(extensions.gen_random_bytes(24), 'base64'), '+/', '-_'), '=');
  begin
    insert into public.chat_shares (id, session_id, user_id, token_hash, title, messages, include_reasoning,
                                    include_attachments)
    select coalesce(share_session.share_id, gen_random_uuid()), conv.id, conv.user_id,
           public.share_token_hash(token), conv.title,
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
  exception when unique_violation then
    -- Two calls with the same id at once: the other one stored it.
    if share_session.share_id is not null
       and exists (select 1 from public.chat_shares s where s.id = share_session.share_id) then
      perform public.raise_refusal(409, 'ShareIdTaken', 'A share link with this id exists already.',
                                   jsonb_build_object('field', 'share_id'));
    end if;
    raise;
  end;
  return jsonb_build_object('id', made.id, 'token', token, 'created_at', made.created_at);
end;
$$;

revoke execute on function public.share_session(uuid, boolean, boolean, uuid) from public, anon;
grant execute on function public.share_session(uuid, boolean, boolean, uuid) to authenticated;
