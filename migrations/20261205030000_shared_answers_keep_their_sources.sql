-- A shared answer keeps its web sources. `share_session` froze each answer's text, which cites its
-- sources as [1], [2] (web search), but not the sources themselves: a reader of the link saw the
-- numbers and nothing they pointed to. The sources are the answer's public references (title,
-- link, site), shown with it in the chat, so every share carries them, as it carries the model's
-- name; thinking and attachments stay the owner's choice. Links made before keep what they froze.
--
-- The body is 20261204153000_shares_named_by_their_caller.sql's, with `sources`.

create or replace function public.share_session(
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
               'attachments', case when share_session.include_attachments then to_jsonb(m) -> 'attachments' end,
               'sources', case when m.sources <> '[]'::jsonb then m.sources end))
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
