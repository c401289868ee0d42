-- The stray-upload sweep keeps every file a question lists, a question stored while it runs
-- included. sweep_stray_attachments (20261204234500) asked whether a message lists each old object
-- and locked the unlisted ones in the same statement, so under the statement's snapshot: a question
-- listing one, committed after that snapshot and before the sweep reached the row, was not seen
-- (its FOR KEY SHARE lock gone with its commit, SKIP LOCKED had nothing to skip) and the file was
-- deleted under it. Since 12-05 /v1 stores an image once per user and content, so a new question
-- lists an old stored file whenever a client sends the same image again.
--
-- Now the sweep locks its candidates first (FOR UPDATE SKIP LOCKED, as before) and asks again in a
-- statement of its own (a new snapshot under READ COMMITTED), as a message's deletion does
-- (20261206100010): a question committed before the lock is seen and its file kept; a question
-- whose check comes after the lock waits for the sweep and is refused, 'attachment ... does not
-- exist' (23503). It returns how many it deleted; a candidate found listed at the second look is
-- kept, so a batch may come back short and the run end early: the next run takes the rest.

create or replace function public.sweep_stray_attachments(older_than_seconds double precision, max_objects integer)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  candidates uuid[];
  swept integer;
begin
  if older_than_seconds is null or older_than_seconds < 3600 then
    perform public.raise_refusal(400, 'ValidationError',
      'older_than_seconds must be at least 3600: an upload waits in the composer while its question is written.',
      jsonb_build_object('field', 'older_than_seconds'));
  end if;
  perform set_config('storage.allow_delete_query', 'true', true);
  -- first look, then lock: old objects no message listed as this statement began
  candidates := array(
    select o.id
      from storage.objects o
     where o.bucket_id = 'attachments'
       and o.created_at < now() - make_interval(secs => older_than_seconds)
       and not exists (
         select 1 from public.chat_messages m
          where m.attachments @> jsonb_build_array(jsonb_build_object('path', o.name))
            and m.attachments <> '[]'::jsonb  -- most messages list nothing: not hashed, not tested
            and m.user_id = case when split_part(o.name, '/', 1) ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                 then split_part(o.name, '/', 1)::uuid end
       )
     order by o.created_at
     limit greatest(coalesce(max_objects, 0), 0)
       for update of o skip locked);
  if cardinality(candidates) = 0 then
    return 0;
  end if;
  -- second look, the rows held: a question committed meanwhile is seen now
  with gone as (
    delete from storage.objects o
     where o.id = any (candidates)
       and not exists (
         select 1 from public.chat_messages m
          where m.attachments @> jsonb_build_array(jsonb_build_object('path', o.name))
            and m.attachments <> '[]'::jsonb
            and m.user_id = case when split_part(o.name, '/', 1) ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                 then split_part(o.name, '/', 1)::uuid end
       )
    returning 1
  )
  select count(*)::int into swept from gone;
  return swept;
end;
$$;

revoke execute on function public.sweep_stray_attachments(double precision, integer) from public, anon, authenticated;
grant execute on function public.sweep_stray_attachments(double precision, integer) to service_role;
