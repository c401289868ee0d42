-- Local-only change capture for the Realtime service (hosted Supabase decodes the WAL instead).
-- Row triggers on every table of publication supabase_realtime, and on realtime.messages, send
-- one compact JSON notification per change on channel `localbase_realtime`. NOTIFY is delivered
-- after commit, in commit order, so the listener sees committed changes only and in order. A
-- payload too big for NOTIFY (8000 bytes) is parked in realtime.localbase_overflow and only its
-- id is sent; the listener reads and deletes it. Idempotent: applied on every start.

create sequence if not exists realtime.localbase_change_seq;

create table if not exists realtime.localbase_overflow (
  id bigserial primary key,
  payload text not null,
  created_at timestamptz not null default now()
);
revoke all on realtime.localbase_overflow from public, anon, authenticated, service_role;

-- Notify `body`, or park it when NOTIFY could not carry it.
create or replace function realtime.localbase_notify(body text) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  parked bigint;
begin
  if octet_length(body) > 7900 then
    insert into realtime.localbase_overflow (payload) values (body) returning id into parked;
    perform pg_notify('localbase_realtime', json_build_object('k', 'o', 'id', parked)::text);
  else
    perform pg_notify('localbase_realtime', body);
  end if;
end;
$$;
revoke execute on function realtime.localbase_notify(text) from public;

-- One change of a published table. `n` keeps identical payloads of one transaction distinct (NOTIFY
-- folds duplicates); `ts` is transaction_timestamp() in epoch seconds, the commit_timestamp sent.
-- The row before the change (`x`) goes with a DELETE (the listener authorizes a delete by the row
-- it removed) and, on a table with REPLICA IDENTITY FULL (trigger argument 'full'), with an UPDATE
-- too. Otherwise an UPDATE's old_record is its primary key, as Supabase sends it, and the listener
-- takes that from the new row: sending the whole old row doubled every update's payload (a
-- streaming answer's text twice), and past ~3.9 KB of text parked each write of it in
-- localbase_overflow: one more insert here and one more read in the listener. Rows go as json
-- (row_to_json), not jsonb: the payload is text, and building a jsonb of the row first (its keys
-- sorted, then printed again) cost ~28 µs a chat_messages row against ~15, ~6 times a turn.
create or replace function realtime.localbase_capture() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform realtime.localbase_notify(json_build_object(
    'k', 'c',
    'n', nextval('realtime.localbase_change_seq'),
    'rel', tg_relid,
    's', tg_table_schema,
    't', tg_table_name,
    'o', tg_op,
    'ts', extract(epoch from transaction_timestamp()),
    'r', case when tg_op = 'DELETE' then null else row_to_json(new) end,
    'x', case when tg_op = 'DELETE' or (tg_op = 'UPDATE' and tg_nargs > 0) then row_to_json(old) end
  )::text);
  return null;
end;
$$;
revoke execute on function realtime.localbase_capture() from public;

-- One committed realtime.messages row (realtime.send, broadcast_changes): a broadcast to fan out.
create or replace function realtime.localbase_capture_message() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.extension = 'broadcast' then
    perform realtime.localbase_notify(json_build_object(
      'k', 'b',
      'n', nextval('realtime.localbase_change_seq'),
      'id', new.id,
      'topic', new.topic,
      'event', new.event,
      'private', coalesce(new.private, true),
      'payload', new.payload
    )::text);
  end if;
  return null;
end;
$$;
revoke execute on function realtime.localbase_capture_message() from public;

drop trigger if exists localbase_realtime_broadcast on realtime.messages;
create trigger localbase_realtime_broadcast after insert on realtime.messages
  for each row execute function realtime.localbase_capture_message();

-- Give every published table the capture trigger (argument 'full' when its replica identity is
-- FULL; made again when that changes), and take it off tables no longer published.
create or replace function realtime.localbase_sync_capture() returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  rel record;
begin
  for rel in
    select n.nspname, c.relname, c.relreplident = 'f' as full_identity
      from pg_publication_tables p
      join pg_namespace n on n.nspname = p.schemaname
      join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
     where p.pubname = 'supabase_realtime'
       and not exists (select 1 from pg_trigger t
                        where t.tgrelid = c.oid and t.tgname = 'localbase_realtime_capture'
                          and (t.tgnargs > 0) = (c.relreplident = 'f'))
  loop
    execute format(
      'create or replace trigger localbase_realtime_capture after insert or update or delete on %I.%I '
      'for each row execute function realtime.localbase_capture(%s)', rel.nspname, rel.relname,
      case when rel.full_identity then quote_literal('full') else '' end);
  end loop;
  for rel in
    select c.oid, n.nspname, c.relname
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
     where t.tgname = 'localbase_realtime_capture'
       and not exists (
         select 1 from pg_publication_tables p
          where p.pubname = 'supabase_realtime' and p.schemaname = n.nspname and p.tablename = c.relname)
  loop
    execute format('drop trigger localbase_realtime_capture on %I.%I', rel.nspname, rel.relname);
  end loop;
end;
$$;
revoke execute on function realtime.localbase_sync_capture() from public;

-- After DDL that may change what is published or who may read it: resync the triggers and tell
-- the listener to forget its catalog cache (in commit order with the changes around it).
create or replace function realtime.localbase_on_ddl() returns event_trigger
language plpgsql
as $$
begin
  perform realtime.localbase_sync_capture();
  perform pg_notify('localbase_realtime', json_build_object('k', 'd')::text);
end;
$$;

drop event trigger if exists localbase_realtime_ddl;
create event trigger localbase_realtime_ddl on ddl_command_end
  when tag in (
    'CREATE PUBLICATION', 'ALTER PUBLICATION', 'CREATE TABLE', 'ALTER TABLE', 'GRANT', 'REVOKE',
    'CREATE POLICY', 'ALTER POLICY', 'DROP POLICY', 'DROP TABLE'
  )
  execute function realtime.localbase_on_ddl();

-- The row filter RLS applies when `sub_role` SELECTs from `rel`, as SQL text over the table's
-- columns, built from the catalog as PostgreSQL combines policies: the USING expressions of the
-- permissive SELECT/ALL policies that apply to the role ORed, each restrictive one ANDed. 'true'
-- when RLS does not apply to the role (superuser, BYPASSRLS, owner without FORCE); null when the
-- role may not read the table at all. A policy without USING grants nothing (never more than RLS).
create or replace function realtime.localbase_select_qual(rel regclass, sub_role text) returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  permissive text;
  restrictive text;
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = sub_role)
     or not pg_catalog.has_any_column_privilege(sub_role, rel, 'SELECT') then
    return null;
  end if;
  if exists (select 1 from pg_catalog.pg_roles r where r.rolname = sub_role and (r.rolsuper or r.rolbypassrls))
     or exists (select 1 from pg_catalog.pg_class c
                 where c.oid = rel and not c.relforcerowsecurity and pg_catalog.pg_has_role(sub_role, c.relowner, 'USAGE')) then
    return 'true';
  end if;
  select string_agg(format('(%s)', coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'false')), ' or ')
           filter (where p.polpermissive),
         string_agg(format('(%s)', coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), 'false')), ' and ')
           filter (where not p.polpermissive)
    into permissive, restrictive
    from pg_catalog.pg_policy p
   where p.polrelid = rel
     and p.polcmd in ('r', '*')
     and (0::oid = any(p.polroles)
          or exists (select 1 from unnest(p.polroles) r where pg_catalog.pg_has_role(sub_role, r, 'MEMBER')));
  if permissive is null then
    return 'false';
  end if;
  return format('(%s) and (%s)', permissive, coalesce(restrictive, 'true'));
end;
$$;
revoke execute on function realtime.localbase_select_qual(regclass, text) from public;

-- Per-subscriber RLS on captured row images, for INSERT, UPDATE and DELETE alike: which of
-- `images` (rows as to_jsonb made them) each subscriber of `subscribers` ([[role, claims], ...])
-- may SELECT. Each image is tested against the role's policy filter (localbase_select_qual) as
-- that role with its claims, so auth.uid() and the policies' subqueries see the subscriber, and
-- the answer depends only on the image: nothing written, no row locked, and a row updated,
-- deleted or re-inserted since does not matter. Policies that read other tables see them as they
-- are now. A subscriber whose check fails (a policy raising for its claims) sees nothing.
-- Returns (subscriber, image) pairs, both counted from 1.
drop function if exists realtime.localbase_visible(text, text, regclass, text[], jsonb);
drop function if exists realtime.localbase_visible(regclass, text[], jsonb, jsonb);
create or replace function realtime.localbase_visible(rel regclass, images jsonb, subscribers jsonb)
returns table (subscriber integer, image integer)
language plpgsql
as $$
declare
  alias text;
  sub jsonb;
  sub_index integer := 0;
  sub_role text;
  qual text;
  probe text;
  probes jsonb := '{}';  -- role -> its probe query (null: the role reads nothing), built once per call
  seen integer[];
begin
  select c.relname into alias from pg_catalog.pg_class c where c.oid = rel;
  for sub in select value from jsonb_array_elements(subscribers) loop
    sub_index := sub_index + 1;
    sub_role := sub ->> 0;
    if probes ? sub_role then
      probe := probes ->> sub_role;
    else
      qual := realtime.localbase_select_qual(rel, sub_role);
      probe := case when qual is not null and qual <> 'false' then format(
        'select array_agg(k.o::int) from jsonb_array_elements($1) with ordinality k(v, o) '
        'where exists (select 1 from jsonb_populate_record(null::%s, k.v) as %I where %s)', rel, alias, qual) end;
      probes := probes || jsonb_build_object(sub_role, probe);
    end if;
    continue when probe is null;
    begin
      perform set_config('role', sub ->> 0, true);
      perform set_config('request.jwt.claims', sub ->> 1, true);
      perform set_config('request.jwt.claim.role', sub ->> 0, true);
      perform set_config('request.jwt.claim.sub', coalesce((sub ->> 1)::jsonb ->> 'sub', ''), true);
      execute probe into seen using images;
    exception when others then
      seen := null;
    end;
    perform set_config('role', 'none', true);
    return query select sub_index, unnest(seen);
  end loop;
end;
$$;
revoke execute on function realtime.localbase_visible(regclass, jsonb, jsonb) from public;

select realtime.localbase_sync_capture();
