-- A message's deletion keeps every file another message of its owner lists, a question being stored
-- at that moment included. chat_messages_delete_attachments (20261201181243) asked whether another
-- message lists each file and then deleted the unlisted ones: a question listing one of them, stored
-- meanwhile in another transaction, was not seen by the question (its insert not yet committed),
-- while its attachment check held the file's row FOR SHARE (20261205100000); the deletion waited
-- for that lock and, once the question committed, deleted the file under it. The question stayed
-- listing a file no longer there (the worker leaves such a file out: the model never saw it). A
-- file listed by several messages is common: a branch's copies, a regenerated question's, and an
-- image a /v1 client sends again on every turn, stored once per user and content since 12-05.
--
-- Now the deletion locks its files first (FOR UPDATE, in name order) and asks afterwards, in a
-- statement of its own (a new snapshot under READ COMMITTED): a question holding one is waited for
-- and then seen. A question whose check comes second waits for the deletion and finds the file gone
-- (23503 'attachment ... does not exist'), refused rather than stored listing nothing; /v1 stores
-- its file again and retries (api/compat/turns.py).

create or replace function public.chat_messages_delete_attachments() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  paths text[];
begin
  paths := array(select distinct a.value ->> 'path'
                   from jsonb_array_elements(old.attachments) a
                  where split_part(a.value ->> 'path', '/', 1) = old.user_id::text
                  order by 1);
  if cardinality(paths) = 0 then
    return old;
  end if;
  perform 1 from storage.objects o
   where o.bucket_id = 'attachments' and o.name = any (paths)
   order by o.name
     for update;
  perform public.storage_delete_objects(
    'attachments',
    array(
      select p from unnest(paths) p
       where not exists (
         select 1 from public.chat_messages m
          where m.user_id = old.user_id and m.id <> old.id
            and m.attachments @> jsonb_build_array(jsonb_build_object('path', p))
            and m.attachments <> '[]'::jsonb
       )
    )
  );
  return old;
end;
$$;
