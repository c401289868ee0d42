-- `GET /api/sessions` lists pinned chats first, as the web app's sidebar and /history do, and says
-- which are pinned. The web app pins a chat over REST (`chat_sessions.pinned_at`, the most recently
-- pinned on top, 20261201180531_conversation_trees.sql), but the API's list ordered by last
-- activity alone and left `pinned_at` out, so an API client saw a pinned chat wherever its last
-- message put it (on page 2 or later, for an old one) and could not tell it was pinned.
--
-- Now the list is pinned first (newest pin on top), then by last activity as before, on the
-- (user_id, pinned_at desc nulls last, last_message_at desc nulls last) index the pins came with;
-- each session of the list, and the one `GET /api/sessions/{id}` reads, carries `pinned_at` (null:
-- not pinned). Nothing else of the response changes.

create or replace function facade.sessions(claims text, archived boolean, page_rows integer, skip integer) returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  if archived then
    select coalesce(json_agg(r order by r.pinned_at desc nulls last, r.last_message_at desc nulls last, r.created_at desc, r.id), '[]')::text
      into found
      from (select s.id, s.title, ro.slug as role_id, s.is_active, s.message_count, s.last_message_at,
                   s.created_at, s.updated_at, s.pinned_at
              from public.chat_sessions s left join public.ai_roles ro on ro.id = s.role_id
             where s.archived_at is not null
             order by s.pinned_at desc nulls last, s.last_message_at desc nulls last, s.created_at desc, s.id
             limit page_rows offset skip) r;
  else
    select coalesce(json_agg(r order by r.pinned_at desc nulls last, r.last_message_at desc nulls last, r.created_at desc, r.id), '[]')::text
      into found
      from (select s.id, s.title, ro.slug as role_id, s.is_active, s.message_count, s.last_message_at,
                   s.created_at, s.updated_at, s.pinned_at
              from public.chat_sessions s left join public.ai_roles ro on ro.id = s.role_id
             where s.archived_at is null
             order by s.pinned_at desc nulls last, s.last_message_at desc nulls last, s.created_at desc, s.id
             limit page_rows offset skip) r;
  end if;
  return found;
end
$$;

create or replace function facade.session(claims text, wanted uuid) returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  select coalesce(json_agg(r), '[]')::text into found
    from (select s.id, s.title, ro.slug as role_id, s.is_active, s.message_count, s.last_message_at,
                 s.created_at, s.updated_at, s.pinned_at
            from public.chat_sessions s left join public.ai_roles ro on ro.id = s.role_id
           where s.id = wanted) r;
  return found;
end
$$;
