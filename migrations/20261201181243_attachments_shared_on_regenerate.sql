-- A message's attachments are deleted with it only when no other message of the same user still
-- lists them: regenerating a question re-sends the same files in a new message before the old one
-- goes, and those files must survive.
create or replace function public.chat_messages_delete_attachments() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if jsonb_array_length(old.attachments) > 0 then
    perform public.storage_delete_objects(
      'attachments',
      array(
        select a.value ->> 'path'
          from jsonb_array_elements(old.attachments) a
         where split_part(a.value ->> 'path', '/', 1) = old.user_id::text
           and not exists (
             select 1 from public.chat_messages m
              where m.user_id = old.user_id and m.id <> old.id
                and m.attachments @> jsonb_build_array(jsonb_build_object('path', a.value ->> 'path'))
           )
      )
    );
  end if;
  return old;
end;
$$;
