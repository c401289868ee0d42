-- The facade's search, one statement like its other reads (migrations/
-- 20261202051029_facade_reads_in_one_statement.sql, api/database.py `read_as`): the session check
-- and the ranked page in one call that first becomes the caller, instead of BEGIN + claims, the
-- check, the search and COMMIT (four round trips). Null when the named session is not one the
-- caller can see (the API answers 404 SessionNotFound), else the hits as JSON in rank order.
-- Unlike the keyed reads it plans per call (`plan_cache_mode` back to `auto`): a search's best
-- plan depends on its words. Callable by the login role only, like every `facade` function.

create function facade.search(claims text, words text, in_session uuid, page_rows integer, skip integer)
returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  perform pg_catalog.set_config('plan_cache_mode', 'auto', true);
  if in_session is not null and not exists (select 1 from public.chat_sessions s where s.id = in_session) then
    return null;
  end if;
  select coalesce(json_agg(r order by r.ordinality), '[]')::text into found
    from (select h.id, h.session_id, h.message_type, h.content, h.role_id, h.created_at,
                 coalesce(h.rank, 0) as rank, h.ordinality
            from public.search_messages(words, in_session, page_rows, skip) with ordinality h) r;
  return found;
end
$$;

revoke all on function facade.search(text, text, uuid, integer, integer) from public, anon, authenticated, service_role;
grant execute on function facade.search(text, text, uuid, integer, integer) to authenticator;
