-- chat_messages_check_images fires only for rows that carry attachments, as the other attachment
-- triggers do since 20261201191141: a message without attachments ('[]', the column's default)
-- carries no image to check, and a plain insert (the vast majority, and every bulk import) no
-- longer pays a plpgsql call per row for nothing. The function itself is unchanged.
drop trigger chat_messages_check_images on public.chat_messages;
create trigger chat_messages_check_images before insert or update of attachments on public.chat_messages
  for each row when (new.attachments is distinct from '[]'::jsonb)
  execute function public.chat_messages_check_images();
