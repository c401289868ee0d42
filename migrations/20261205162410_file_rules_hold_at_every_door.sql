-- The product's file rules hold for every write to storage.objects, not only for a user's own.
-- Two of them were RLS policies alone: a file a message lists stays as sent (its path takes no new
-- file, 20261205100000_attached_files_stay_as_sent.sql) and a deleted account writes no more files
-- (20261205115000_only_existing_users_write_files.sql). Policies bind the `authenticated` role only;
-- a signed upload URL (createSignedUploadUrl, then uploadToSignedUrl) is written as Storage's admin,
-- as storage-api writes it, with the token (checked against the policies when it was made) as the
-- authorization. A token lives for hours and can be used again, so a link signed before a message
-- listed its file replaced that file with anything the bucket takes (the worker read a 4 KB PDF
-- under the message's recorded 1x1 PNG), or wrote it again after its owner deleted it; and a link
-- signed before the account was deleted put a file in the public `avatars` bucket (or in
-- `attachments`) after the deletion had removed the account's files: served to anyone, for good,
-- under an account nothing would ever clean up.
--
-- A BEFORE INSERT OR UPDATE trigger on storage.objects now refuses, whoever writes (a user, a
-- signed URL, service_role, SQL), in the product's buckets:
--   * a new file (an insert, or an update that changes the row's path, version or metadata) whose
--     first folder is not the id of an existing account, spelt as the account deletion's cascade
--     matches it (delete_user_objects: lower-case canonical UUID). The account's row is locked FOR
--     KEY SHARE to the write's commit, so a deletion running at the same time waits for the write
--     and its cascade then removes the file, or the write waits for the deletion and is refused;
--   * in `attachments`, a new file at a path a message lists, and any change of a listed file's
--     path, version or metadata (its bytes and what the message was checked against). A message
--     being stored locks its files FOR SHARE (chat_messages_check_attachments), so an upsert waits
--     for it and then sees it, as the policies do.
-- Deleting stays allowed (a listed file's owner may delete it; the worker then leaves it out), and
-- so do updates that write no new file (last_accessed_at, user_metadata). The refusal is 42501,
-- which Storage answers as every RLS refusal (403 AccessDenied, "new row violates row-level
-- security policy"), at every door. The policies stay: they still decide what a user sees (a move
-- of a listed file away is storage-api's 404, the row hidden by the update policy's USING).

create or replace function public.storage_objects_keep_file_rules() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  folder text;
begin
  if tg_op = 'UPDATE' and old.bucket_id = 'attachments'
     and (new.bucket_id, new.name, new.version, new.metadata)
         is distinct from (old.bucket_id, old.name, old.version, old.metadata)
     and public.attachment_listed_by_its_owner(old.name) then
    raise exception 'attachment % is listed by a message: it stays as sent', old.name using errcode = '42501';
  end if;
  if new.bucket_id is null or new.bucket_id not in ('avatars', 'attachments') then
    return new;
  end if;
  if tg_op = 'UPDATE' and (new.bucket_id, new.name, new.version, new.metadata)
                          is not distinct from (old.bucket_id, old.name, old.version, old.metadata) then
    return new;  -- no new file: an access time, user metadata
  end if;
  folder := split_part(new.name, '/', 1);
  if folder !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'object % is not in an account''s folder', new.name using errcode = '42501';
  end if;
  perform 1 from auth.users u where u.id = folder::uuid for key share;
  if not found then
    raise exception 'object % is in the folder of no existing account', new.name using errcode = '42501';
  end if;
  if new.bucket_id = 'attachments' and public.attachment_listed_by_its_owner(new.name) then
    raise exception 'attachment % is listed by a message: it stays as sent', new.name using errcode = '42501';
  end if;
  return new;
end;
$$;

-- Whether a message lists `object_name`: only its owner's messages may (the attachment check), and
-- the owner is the path's first folder; the same partial GIN index as the policies' question.
create or replace function public.attachment_listed_by_its_owner(object_name text) returns boolean
language sql
volatile  -- each call sees what has committed: an upsert that waited for a message sees it
security definer
set search_path = ''
as $$
  select case
    when split_part(object_name, '/', 1) !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then false
    else exists (
      select 1 from public.chat_messages m
       where m.attachments @> jsonb_build_array(jsonb_build_object('path', object_name))
         and m.attachments <> '[]'::jsonb
         and m.user_id = split_part(object_name, '/', 1)::uuid
    )
  end;
$$;

revoke execute on function public.storage_objects_keep_file_rules() from public, anon, authenticated;
revoke execute on function public.attachment_listed_by_its_owner(text) from public, anon, authenticated;

create trigger storage_objects_keep_file_rules before insert or update on storage.objects
  for each row execute function public.storage_objects_keep_file_rules();
