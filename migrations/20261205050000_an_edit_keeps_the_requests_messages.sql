-- An edited question keeps what the edited one brought. Editing a question inserts a sibling under
-- the same parent; for an OpenAI-compatible request's question (a root whose earlier messages are
-- in `question_contexts`) the edit was asked with none of them: "Translate: bonjour" edited to
-- "Translate: merci" lost the script's "You translate into English." (regenerating, following up
-- and branching kept them).
--
-- Now an edit names the question it edits (`edited_from`, set by the web app on insert), and a
-- trigger, in the insert's own transaction (so the worker, which hears the committed row, finds the
-- context with it), checks that it edits a question of the same user, chat and parent, and copies
-- that question's messages and parameters to the new one, admitted as a request's are (the plan's
-- thinking, the context's reservation). A name that is no such question refuses the insert (22023)
-- and nothing is stored. No foreign key: the edited question may be deleted later.

alter table public.chat_messages add column edited_from uuid;
grant insert (edited_from) on public.chat_messages to authenticated;

create function public.chat_messages_edit_keeps_context() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  original public.chat_messages;
begin
  select * into original from public.chat_messages m where m.id = new.edited_from;
  if not found or original.user_id is distinct from new.user_id or original.session_id <> new.session_id
     or original.message_type <> 'user' or new.message_type <> 'user'
     or original.parent_id is distinct from new.parent_id then
    raise exception 'edited_from % is no question this one edits (the same chat and parent)', new.edited_from
      using errcode = '22023';
  end if;
  insert into public.question_contexts (message_id, user_id, messages, parameters)
  select new.id, c.user_id, c.messages, c.parameters
    from public.question_contexts c
   where c.message_id = original.id;
  return null;
end;
$$;
revoke execute on function public.chat_messages_edit_keeps_context() from public, anon, authenticated;

create trigger chat_messages_edit_keeps_context after insert on public.chat_messages
  for each row when (new.edited_from is not null) execute function public.chat_messages_edit_keeps_context();
