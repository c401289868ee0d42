-- A file a message lists stays the file the message was checked against. The attachment check
-- (chat_messages_check_attachments) compares each file's stored size and MIME type with the
-- message and refuses images over 10 MiB, once, when the message is stored; the owner could then
-- replace the object under the same path ("attachments: owner replaces own": a PUT, an upload or a
-- copy with upsert), or delete it and upload again there, and the worker read whatever was stored
-- under the message's recorded MIME type, with no size check (a 1x1 PNG became 11.5 MB declared
-- application/pdf, past every limit the check enforced).
--
-- Now, in the `attachments` bucket, the owner replaces, moves and renames only objects no message of
-- theirs lists (the update policy's USING, the old row), and uploads, copies or moves nothing to a
-- path a message of theirs lists (the insert policy's and the update policy's WITH CHECK, the new
-- row). Storage answers a refused upsert, copy or move onto such a path as any RLS refusal (403
-- AccessDenied, "new row violates row-level security policy"), and a move of a listed file away as
-- storage-api answers a move RLS hides (404 NoSuchKey). Deleting a listed file is still the owner's right (the worker then leaves
-- it out, as before); deleting the message deletes its files. service_role, the triggers and
-- signed-URL uploads (written as admin: the token, checked against the policies when it was
-- made, is the authorization) are not bound by policies.
--
-- The question is asked only of writes to the owner's own attachment paths: a probe of a partial
-- GIN index over the messages that list files (jsonb_path_ops answers `@>` on the path), bounded
-- by the owner (the folder is the owner's id, and only the owner's messages may list it): 4
-- buffers, 0.05 ms, among 10,000 messages with files.
--
-- A message and a replacement sent at once: the attachment check locked the object FOR KEY SHARE,
-- which an upsert (it changes no key column) does not wait for, so the upsert could commit over a
-- file the message, still uncommitted, had just checked. The check now locks it FOR SHARE (the
-- stray-upload sweep's FOR UPDATE SKIP LOCKED still skips it): the upsert waits for the message's
-- transaction and then asks the policy again, which, volatile, sees the message if it committed.
-- A replacement that came first makes the message's check wait for it and compare the new object.
-- The function is 20261204131500's `chat_messages_check_attachments` with that lock changed.

-- fastupdate off: a message with files enters the index as it is stored (a few pages), instead of a
-- pending list of up to 4 MB that every probe would read whole until a vacuum merged it.
create index chat_messages_attachment_paths_idx on public.chat_messages
  using gin (attachments jsonb_path_ops) with (fastupdate = off)
  where attachments <> '[]'::jsonb;

-- Security definer: the answer must not depend on what the caller's session may read of
-- chat_messages; it is asked only about the caller's own messages, so it tells them nothing new.
create or replace function public.attachment_listed_by_own_message(object_name text) returns boolean
language sql
volatile  -- each call sees what has committed: an upsert that waited for a message sees it
security definer
set search_path = ''
as $$
  -- By path alone: every listed file is in `attachments` (the check says so), and a key every row
  -- has ("bucket": "attachments") would make the probe read the whole index.
  select exists (
    select 1 from public.chat_messages m
     where m.attachments @> jsonb_build_array(jsonb_build_object('path', object_name))
       and m.attachments <> '[]'::jsonb
       and m.user_id = (select auth.uid())
  );
$$;

revoke execute on function public.attachment_listed_by_own_message(text) from public, anon;
grant execute on function public.attachment_listed_by_own_message(text) to authenticated;

drop policy "attachments: owner uploads into own folder" on storage.objects;
create policy "attachments: owner uploads into own folder, never at a listed path" on storage.objects
  for insert to authenticated
  with check (
    bucket_id = 'attachments'
    and (storage.foldername(name))[1] = (select auth.uid())::text
    and not public.attachment_listed_by_own_message(name)
  );

drop policy "attachments: owner replaces own" on storage.objects;
create policy "attachments: owner replaces own files no message lists" on storage.objects
  for update to authenticated
  using (
    bucket_id = 'attachments'
    and (storage.foldername(name))[1] = (select auth.uid())::text
    and not public.attachment_listed_by_own_message(name)
  )
  with check (
    bucket_id = 'attachments'
    and (storage.foldername(name))[1] = (select auth.uid())::text
    and not public.attachment_listed_by_own_message(name)
  );

create or replace function public.chat_messages_check_attachments() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  item jsonb;
  stored record;
begin
  if jsonb_typeof(new.attachments) <> 'array' then
    raise exception 'attachments must be a JSON array' using errcode = '22023';
  end if;
  if jsonb_array_length(new.attachments) > 10 then
    raise exception 'a message carries at most 10 attachments' using errcode = '22023';
  end if;
  if tg_op = 'UPDATE' and new.attachments = old.attachments then
    return new;
  end if;
  for item in select value from jsonb_array_elements(new.attachments) loop
    if jsonb_typeof(item) <> 'object'
       or item ->> 'bucket' is distinct from 'attachments'
       or jsonb_typeof(item -> 'path') is distinct from 'string'
       or jsonb_typeof(item -> 'name') is distinct from 'string'
       or char_length(item ->> 'name') not between 1 and 255
       or jsonb_typeof(item -> 'mime_type') is distinct from 'string'
       or jsonb_typeof(item -> 'size') is distinct from 'number'
       or (item ? 'width' and jsonb_typeof(item -> 'width') is distinct from 'number')
       or (item ? 'height' and jsonb_typeof(item -> 'height') is distinct from 'number')
       or exists (select 1 from jsonb_object_keys(item) k
                   where k not in ('bucket', 'path', 'name', 'mime_type', 'size', 'width', 'height')) then
      raise exception 'attachment % is not {bucket: "attachments", path, name, mime_type, size[, width, height]}', item
        using errcode = '22023';
    end if;
    if split_part(item ->> 'path', '/', 1) is distinct from new.user_id::text then
      raise exception 'attachment % is not in the message owner''s folder', item ->> 'path' using errcode = '42501';
    end if;
    select o.metadata into stored from storage.objects o
     where o.bucket_id = 'attachments' and o.name = item ->> 'path'
       for share;  -- held to commit: a replacement or the stray-upload sweep waits for it, or skips it
    if not found then
      raise exception 'attachment % does not exist', item ->> 'path' using errcode = '23503';
    end if;
    if (stored.metadata ->> 'size')::bigint is distinct from (item ->> 'size')::bigint
       or stored.metadata ->> 'mimetype' is distinct from item ->> 'mime_type' then
      raise exception 'attachment % does not match the stored object', item ->> 'path' using errcode = '22023';
    end if;
  end loop;
  return new;
end;
$$;
