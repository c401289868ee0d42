-- A share link of a chat with an answer that continued a /v1 request's words (Qwen's partial mode)
-- copies that answer whole, the words then the continuation (20261206151100), but said nothing of
-- it: whoever opened the link read the request's words as the model's, where the owner's page
-- notes above such an answer that it continues the words the request gave (continued_words,
-- 20261206151000). The copy now marks such an answer `"continued": true` (absent on any other
-- message, as jsonb_strip_nulls leaves a null out), so the shared page shows the same note. An
-- empty or missing prefix is no words continued (the API stores none; the web's check is the same).
-- Links made before stay as they were frozen.
--
-- share_session is 20261206151100_a_shared_continued_answer_keeps_its_words.sql's with that one change.

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
               -- an answer that continued a request's words (Qwen's partial mode): those words, then it
               'content', coalesce(m.words, '') || m.content,
               -- and it says so (the shared page notes it, as the owner's does)
               'continued', case when m.words is not null then true end,
               'model', m.model,
               'created_at', m.created_at,
               'reasoning', case when share_session.include_reasoning then to_jsonb(m) -> 'reasoning' end,
               'attachments', case when share_session.include_attachments
                                   then public.shared_attachments(m.attachments) end,
               'sources', case when m.sources <> '[]'::jsonb then m.sources end))
             order by m.ord), '[]'::jsonb),
           share_session.include_reasoning, share_session.include_attachments
      from (select p.*, row_number() over () as ord,
                   (select nullif(c.parameters ->> 'prefix', '') from public.question_contexts c
                     where p.message_type = 'assistant' and c.message_id = p.reply_to) as words
              from public.chat_path(conv.id) p) m
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
