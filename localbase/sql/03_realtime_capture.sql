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
    'r', case when tg_op = 'DELETE' then null else to_jsonb(new) end,
    'x', case when tg_op = 'INSERT' then null else to_jsonb(old) end
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

-- Give every published table the capture trigger, and take it off tables no longer published.
create or replace function realtime.localbase_sync_capture() returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  rel record;
begin
  for rel in
    select c.oid, n.nspname, c.relname
      from pg_publication_tables p
      join pg_namespace n on n.nspname = p.schemaname
      join pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
     where p.pubname = 'supabase_realtime'
       and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = 'localbase_realtime_capture')
  loop
    execute format(
      'create trigger localbase_realtime_capture after insert or update or delete on %I.%I '
      'for each row execute function realtime.localbase_capture()', rel.nspname, rel.relname);
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

-- Visibility of rows under a subscriber's role and claims, for per-subscriber RLS. Returns the
-- indexes (into `keys`) of the rows `sub_role` may SELECT. The role switch happens before the
-- dynamic query is planned, so policies and auth.uid() see the subscriber. Callers run it in a
-- transaction they roll back; the settings are local to it either way.
create or replace function realtime.localbase_visible(
  sub_role text, claims text, rel regclass, key_columns text[], keys jsonb
) returns setof integer
language plpgsql
as $$
declare
  table_keys text;
  given_keys text;
begin
  select string_agg(format('t.%I', c), ', '), string_agg(format('g.%I', c), ', ')
    into table_keys, given_keys
    from unnest(key_columns) c;
  perform set_config('role', sub_role, true);
  perform set_config('request.jwt.claims', claims, true);
  perform set_config('request.jwt.claim.role', sub_role, true);
  perform set_config('request.jwt.claim.sub', coalesce(claims::jsonb ->> 'sub', ''), true);
  return query execute format(
    'select k.i::int from jsonb_array_elements($1) with ordinality k(v, i) '
    'where exists (select 1 from %s t where (%s) = (select %s from jsonb_populate_record(null::%s, k.v) g))',
    rel, table_keys, given_keys, rel)
  using keys;
end;
$$;
revoke execute on function realtime.localbase_visible(text, text, regclass, text[], jsonb) from public;

select realtime.localbase_sync_capture();
