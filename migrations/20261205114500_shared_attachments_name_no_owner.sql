-- A share with its attachments no longer tells whose they are. `share_session` copied each
-- attachment whole, and its Storage `path` is `<owner's user id>/...`: anyone with the link read the
-- owner's id, which read_share never gives (nor the session's). The reader gets no file from a
-- share (the bucket is private), only what a file is.
--
-- Now a shared attachment is its `name`, `mime_type`, `size` and, for an image, `width` and
-- `height` (`shared_attachments`), and the shares made before are scrubbed the same way here.
--
-- The body of share_session is 20261205030000_shared_answers_keep_their_sources.sql's, with
-- `shared_attachments`.

-- What a share shows of a message's attachments: what each file is, not where it is stored.
create function public.shared_attachments(attachments jsonb) returns jsonb
language sql
immutable
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
           'name', a -> 'name', 'mime_type', a -> 'mime_type', 'size', a -> 'size',
           'width', a -> 'width', 'height', a -> 'height')) order by n), '[]'::jsonb)
    from jsonb_array_elements(attachments) with ordinality as f(a, n)
$$;

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
               'attachments', case when share_session.include_attachments
                                   then public.shared_attachments(m.attachments) end,
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

revoke execute on function public.shared_attachments(jsonb) from public, anon, authenticated;

-- The shares made before: each message's attachments as a share shows them now.
update public.chat_shares s
   set messages = (select jsonb_agg(case when m ? 'attachments'
                                         then m || jsonb_build_object('attachments',
                                                                      public.shared_attachments(m -> 'attachments'))
                                         else m end
                                    order by n)
                     from jsonb_array_elements(s.messages) with ordinality as x(m, n))
 where exists (select 1 from jsonb_array_elements(s.messages) m, jsonb_array_elements(m -> 'attachments') a
                where a ? 'path' or a ? 'bucket');
