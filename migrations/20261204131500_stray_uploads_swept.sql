-- Uploads no message lists, swept: a file attached in the composer and never sent (the tab closed
-- first, the upload's response lost and the user gave up) stayed in its owner's `attachments`
-- folder until the account went. `sweep_stray_attachments` deletes, in bounded batches, objects of
-- the bucket uploaded longer ago than a given age that no message of their owner lists
-- (`python -m ops stray-uploads --older-than 1d`, run from cron like the other lifecycle jobs).
-- Deleting the rows queues the bytes' removal locally (storage.blob_deletions); on hosted Supabase
-- the S3 bytes of rows deleted in SQL wait for a storage cleanup, as for every other SQL deletion.
--
-- A message being sent as its upload is swept: the attachment check now locks the object row
-- (FOR KEY SHARE, to the end of the inserting transaction). The sweep takes its rows FOR UPDATE
-- SKIP LOCKED, so an object a message is inserting with is left for a later round (by then it is
-- listed), and an object the sweep took first makes the message's check wait for the sweep, then
-- find no object: the message is refused, "attachment ... does not exist" (23503), rather than
-- stored pointing at a file that is gone.

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
       for key share;  -- held to commit: the stray-upload sweep skips it, or is waited for
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

create or replace function public.sweep_stray_attachments(older_than_seconds double precision, max_objects integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  swept integer;
begin
  if older_than_seconds is null or older_than_seconds < 3600 then
    perform public.raise_refusal(400, 'ValidationError',
      'older_than_seconds must be at least 3600: an upload waits in the composer while its question is written.',
      jsonb_build_object('field', 'older_than_seconds'));
  end if;
  perform set_config('storage.allow_delete_query', 'true', true);
  with stray as (
    select o.id
      from storage.objects o
     where o.bucket_id = 'attachments'
       and o.created_at < now() - make_interval(secs => older_than_seconds)
       and not exists (
         select 1 from public.chat_messages m
          where m.user_id = case when split_part(o.name, '/', 1) ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                 then split_part(o.name, '/', 1)::uuid end
            and m.attachments @> jsonb_build_array(jsonb_build_object('path', o.name))
       )
     order by o.created_at
     limit greatest(coalesce(max_objects, 0), 0)
       for update of o skip locked
  ), gone as (
    delete from storage.objects o using stray where o.id = stray.id returning 1
  )
  select count(*)::int into swept from gone;
  return swept;
end;
$$;

revoke execute on function public.sweep_stray_attachments(double precision, integer) from public, anon, authenticated;
grant execute on function public.sweep_stray_attachments(double precision, integer) to service_role;
