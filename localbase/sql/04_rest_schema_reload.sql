-- The REST schema cache reloads after DDL, as PostgREST's recommended event triggers do: any
-- committed DDL notifies channel `pgrst` with 'reload schema'. Idempotent.

create or replace function extensions.pgrst_watch() returns event_trigger
language plpgsql
as $$
begin
  perform pg_notify('pgrst', 'reload schema');
end;
$$;

do $$
begin
  if not exists (select 1 from pg_event_trigger where evtname = 'pgrst_ddl_watch') then
    create event trigger pgrst_ddl_watch on ddl_command_end execute function extensions.pgrst_watch();
  end if;
  if not exists (select 1 from pg_event_trigger where evtname = 'pgrst_drop_watch') then
    create event trigger pgrst_drop_watch on sql_drop execute function extensions.pgrst_watch();
  end if;
end
$$;
