-- An edit whose original is gone is still sent. `edited_from` only names the question whose request
-- messages the edit keeps (20261205050000); when that question was deleted meanwhile (in another tab,
-- or its chat's history cleared there) the edit was refused with a raw 22023 and the user's edited
-- text was lost. Now a name the caller cannot see (deleted, or never theirs) brings nothing and the
-- edit is stored as the plain question it is, and a question of theirs that is not this one's sibling
-- (another chat, another parent, an answer) is refused with a stable code: 400 InvalidEdit.

create or replace function public.chat_messages_edit_keeps_context() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  original public.chat_messages;
begin
  select * into original from public.chat_messages m where m.id = new.edited_from and m.user_id = new.user_id;
  if not found then
    return null;  -- deleted meanwhile, or not the caller's to name: nothing to keep
  end if;
  if original.session_id <> new.session_id or original.message_type <> 'user' or new.message_type <> 'user'
     or original.parent_id is distinct from new.parent_id then
    perform public.raise_refusal(400, 'InvalidEdit',
      'The question named as edited is not a question this one edits (the same chat and parent).',
      jsonb_build_object('edited_from', new.edited_from));
  end if;
  insert into public.question_contexts (message_id, user_id, messages, parameters)
  select new.id, c.user_id, c.messages, c.parameters
    from public.question_contexts c
   where c.message_id = original.id;
  return null;
end;
$$;
revoke execute on function public.chat_messages_edit_keeps_context() from public, anon, authenticated;
