-- Defence in depth for the facade's reads (migrations/20261202051029_facade_reads_in_one_statement.sql):
-- `facade.become` also makes the rest of the transaction read-only, as the API's own read
-- transactions were (`begin ... read only`). Every facade function reads; should one ever be
-- written to change a row, Postgres refuses it (25006) instead of the caller's RLS alone deciding.

create or replace function facade.become(claims text) returns void
language plpgsql volatile security invoker
as $$
begin
  perform pg_catalog.set_config('request.jwt.claims', claims, true),
          pg_catalog.set_config('role', 'authenticated', true),
          pg_catalog.set_config('plan_cache_mode', 'force_generic_plan', true),
          pg_catalog.set_config('transaction_read_only', 'on', true);
end
$$;

revoke all on function facade.become(text) from public, anon, authenticated, service_role;
grant execute on function facade.become(text) to authenticator;
