-- The stray-upload sweep asks, for every old object of the `attachments` bucket, whether a message of
-- its owner lists it. Postgres answered with a hash anti-join over every message of the service,
-- testing a stray object against every message of its owner (200 strays among 2,200 uploads of 100
-- users with 2,000 messages each: 419,000 tests, 1.4 s for the round that finds them; bench/
-- sweep_bench.py). Only messages with attachments can list one: saying so lets the join hash and
-- test those alone (2,000 rows there: 0.13 s for that round; a round that finds nothing, 0.11 s
-- either way). Same result, same locking (20261204131500_stray_uploads_swept.sql).

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
          where m.attachments @> jsonb_build_array(jsonb_build_object('path', o.name))
            and m.attachments <> '[]'::jsonb  -- most messages list nothing: not hashed, not tested
            and m.user_id = case when split_part(o.name, '/', 1) ~ '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
                                 then split_part(o.name, '/', 1)::uuid end
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
