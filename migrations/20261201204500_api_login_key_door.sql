-- The API resolves an API key and counts its caller's send rate on its own Postgres door, as its
-- login role `authenticator` BEFORE it becomes anyone (the same role PostgREST logs in as, which
-- reads no table and bypasses no RLS): one round trip on a pooled connection instead of two REST
-- calls with the service key. Everything the request then reads or writes runs as the key's user
-- (`set role authenticated` + the claims), under RLS and the plan, as before.
--
-- PostgREST switches to anon/authenticated/service_role before any request's SQL runs, so no
-- REST caller can use these grants; they are the API process's alone.

grant execute on function public.api_key_identity(text) to authenticator;
grant execute on function public.api_rate_limit_hit(text, integer, integer) to authenticator;
