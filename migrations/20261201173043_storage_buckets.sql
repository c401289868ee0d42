-- Storage for the product: the `avatars` and `attachments` buckets with explicit per-verb policies,
-- the attachments a user message records, and deletion of the bytes a deleted message, session
-- or account leaves behind.
--
-- Buckets (storage.buckets has no policy: only service_role and migrations manage buckets):
--   avatars      public: anyone downloads through the public URL; a signed-in user uploads,
--                replaces, lists and deletes only under `<their id>/`; images only, <= 2 MiB.
--   attachments  private: only the owner lists, downloads (signed URLs), writes and deletes under
--                `<their id>/`; images and documents (pdf, txt, md, docx), <= 20 MiB. The limit is
--                the bucket's `file_size_limit`; change it with a migration updating the row.
-- SVG is deliberately not an allowed image type: served from our origin it could run script.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values
  ('avatars', 'avatars', true, 2097152, array['image/png', 'image/jpeg', 'image/gif', 'image/webp']),
  ('attachments', 'attachments', false, 20971520, array[
    'image/png', 'image/jpeg', 'image/gif', 'image/webp',
    'application/pdf', 'text/plain', 'text/markdown',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document'
  ])
on conflict (id) do update
  set public = excluded.public,
      file_size_limit = excluded.file_size_limit,
      allowed_mime_types = excluded.allowed_mime_types;

-- One rule for both buckets: the first folder of the key is the caller's user id.
create policy "avatars: owner reads own folder" on storage.objects
  for select to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "avatars: owner uploads into own folder" on storage.objects
  for insert to authenticated
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "avatars: owner replaces own" on storage.objects
  for update to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "avatars: owner deletes own" on storage.objects
  for delete to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = (select auth.uid())::text);

create policy "attachments: owner reads own" on storage.objects
  for select to authenticated
  using (bucket_id = 'attachments' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "attachments: owner uploads into own folder" on storage.objects
  for insert to authenticated
  with check (bucket_id = 'attachments' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "attachments: owner replaces own" on storage.objects
  for update to authenticated
  using (bucket_id = 'attachments' and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id = 'attachments' and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy "attachments: owner deletes own" on storage.objects
  for delete to authenticated
  using (bucket_id = 'attachments' and (storage.foldername(name))[1] = (select auth.uid())::text);

-- What a user message carries: [{bucket, path, name, mime_type, size, width?, height?}], each an
-- object of the message owner's in `attachments` whose recorded size and type match the row.
alter table public.chat_messages add column attachments jsonb not null default '[]'::jsonb;

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
     where o.bucket_id = 'attachments' and o.name = item ->> 'path';
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

create trigger chat_messages_check_attachments before insert or update of attachments on public.chat_messages
  for each row execute function public.chat_messages_check_attachments();

-- Rows of storage.objects deleted here are queued by the storage schema for byte removal in the
-- same transaction (storage.blob_deletions), so the files go once the rows are gone.
create or replace function public.storage_delete_objects(bucket text, paths text[]) returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if coalesce(cardinality(paths), 0) = 0 then
    return;
  end if;
  perform set_config('storage.allow_delete_query', 'true', true);
  delete from storage.objects where bucket_id = bucket and name = any (paths);
end;
$$;

create or replace function public.chat_messages_delete_attachments() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if jsonb_array_length(old.attachments) > 0 then
    perform public.storage_delete_objects(
      'attachments',
      array(select value ->> 'path' from jsonb_array_elements(old.attachments)
             where split_part(value ->> 'path', '/', 1) = old.user_id::text)
    );
  end if;
  return old;
end;
$$;

create trigger chat_messages_delete_attachments after delete on public.chat_messages
  for each row execute function public.chat_messages_delete_attachments();

-- A deleted account takes everything under its folders with it.
create or replace function public.delete_user_objects() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform set_config('storage.allow_delete_query', 'true', true);
  delete from storage.objects
   where bucket_id in ('avatars', 'attachments') and name like old.id::text || '/%';
  return old;
end;
$$;

create trigger on_auth_user_deleted_objects after delete on auth.users
  for each row execute function public.delete_user_objects();

revoke execute on function public.chat_messages_check_attachments() from public, anon, authenticated;
revoke execute on function public.storage_delete_objects(text, text[]) from public, anon, authenticated;
revoke execute on function public.chat_messages_delete_attachments() from public, anon, authenticated;
revoke execute on function public.delete_user_objects() from public, anon, authenticated;

grant insert (attachments) on public.chat_messages to authenticated;
