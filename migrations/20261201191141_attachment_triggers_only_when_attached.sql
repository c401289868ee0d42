-- The attachment triggers of chat_messages fire only for rows that carry attachments: a plain
-- message (the vast majority, and every bulk import) no longer pays a plpgsql call per row.
drop trigger chat_messages_check_attachments on public.chat_messages;
create trigger chat_messages_check_attachments before insert or update of attachments on public.chat_messages
  for each row when (new.attachments is distinct from '[]'::jsonb)
  execute function public.chat_messages_check_attachments();

drop trigger chat_messages_delete_attachments on public.chat_messages;
create trigger chat_messages_delete_attachments after delete on public.chat_messages
  for each row when (old.attachments is distinct from '[]'::jsonb)
  execute function public.chat_messages_delete_attachments();
