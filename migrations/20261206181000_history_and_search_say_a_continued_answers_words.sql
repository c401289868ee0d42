-- The seed API's history and search say which words of an answer were a /v1 request's. An answer
-- that continued a request's words (Qwen's partial mode, 20261206142000) holds the continuation as
-- its content and the words as `chat_messages.continues` (set by triggers, 20261206172000); REST
-- readers (the web app, supabase-py) read both, but `GET /api/chat/history` returned the content
-- alone, so a client of the seed API showed the answer cut of its start with nothing saying it
-- began with words the request gave, and `GET /api/chat/search` showed it whole with nothing saying
-- which of its words were the request's.
--
-- * facade.history: 20261205170020_history_carries_each_answers_sources.sql's body, with
--   `continues` after `sources` in each row of the page, in every mode (a branched session's path
--   comes from chat_path, whose rows are chat_messages rows, so they carry it too). `content` stays
--   the row's, so the seed's contract is unchanged for every other message and client.
-- * facade.search: 20261206100080_search_results_page_by_cursor.sql's, each hit with its row's
--   `continues` (one primary-key probe per hit, at most 100, as the caller: RLS keeps it to their
--   own rows, which are the only rows search_messages returns). A hit's content is already the
--   words then the continuation (search_messages, 20261206172000), as the chat shows it.

create or replace function facade.history(
  claims text, in_session boolean, owner uuid, page_rows integer, skip integer, after_at timestamptz, after_id uuid
) returns table (total integer, page text)
language plpgsql volatile security invoker
as $$
declare
  -- No cursor reads as a cursor past everything, so one plan per scope bounds the index scan.
  upto timestamptz := coalesce(after_at, 'infinity');
  below uuid := coalesce(after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff');
  counted integer;
begin
  perform facade.become(claims);
  if not in_session and not exists (select 1 from public.chat_sessions s where s.user_id = owner and s.branched) then
    return query
    with p as (
      select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at, m.sources, m.continues
        from public.chat_messages m
       where m.user_id = owner and m.created_at <= upto and (m.created_at < upto or (m.created_at = upto and m.id < below))
       order by m.created_at desc, m.id desc
       limit page_rows offset skip
    )
    select (select coalesce(sum(s.message_count), 0)::integer from public.chat_sessions s where s.user_id = owner),
           (select coalesce(json_agg(p order by p.created_at desc, p.id desc), '[]') from p)::text;
    return;
  elsif not in_session then
    return query
    with forked as materialized (
      select s.id from public.chat_sessions s where s.user_id = owner and s.branched
    ),
    path as materialized (
      select c.id, c.session_id, c.message_type, c.content, c.role_id, c.status, c.reply_to, c.tokens_used,
             c.response_time, c.model, c.finish_reason, c.error_code, c.created_at, c.sources, c.continues
        from forked f cross join lateral public.chat_path(f.id) c
    ),
    p as (
      select u.* from (
        (select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
                m.response_time, m.model, m.finish_reason, m.error_code, m.created_at, m.sources, m.continues
           from public.chat_messages m
          where m.user_id = owner and m.created_at <= upto and (m.created_at < upto or (m.created_at = upto and m.id < below))
            and m.session_id not in (select f.id from forked f)
          order by m.created_at desc, m.id desc
          limit page_rows + skip)
        union all
        (select * from path
          where path.created_at <= upto and (path.created_at < upto or (path.created_at = upto and path.id < below))
          order by path.created_at desc, path.id desc
          limit page_rows + skip)
      ) u
       order by u.created_at desc, u.id desc
       limit page_rows offset skip
    )
    select ((select coalesce(sum(s.message_count), 0) from public.chat_sessions s where s.user_id = owner and not s.branched)
            + (select count(*) from path))::integer,
           (select coalesce(json_agg(p order by p.created_at desc, p.id desc), '[]') from p)::text;
    return;
  end if;
  select case when s.branched then -1 else s.message_count end into counted
    from public.chat_sessions s where s.id = owner;
  if counted is null then
    return query select null::integer, null::text;
  elsif counted >= 0 then
    return query
    with p as (
      select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at, m.sources, m.continues
        from public.chat_messages m
       where m.session_id = owner and m.created_at <= upto and (m.created_at < upto or (m.created_at = upto and m.id < below))
       order by m.created_at desc, m.id desc
       limit page_rows offset skip
    )
    select counted, (select coalesce(json_agg(p order by p.created_at desc, p.id desc), '[]') from p)::text;
  else
    return query
    with path as (
      select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at, m.sources, m.continues
        from public.chat_path(owner) m
    ),
    p as (
      select * from path
       where path.created_at <= upto and (path.created_at < upto or (path.created_at = upto and path.id < below))
       order by path.created_at desc, path.id desc
       limit page_rows offset skip
    )
    select (select count(*) from path)::integer,
           (select coalesce(json_agg(p order by p.created_at desc, p.id desc), '[]') from p)::text;
  end if;
end
$$;


-- 20261206100080_search_results_page_by_cursor.sql's, each hit with its `continues`.
create or replace function facade.search(claims text, words text, in_session uuid, page_rows integer, skip integer, after text)
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
                 coalesce(h.rank, 0) as rank, h.cursor, h.ordinality,
                 (select m.continues from public.chat_messages m where m.id = h.id) as continues
            from public.search_messages(words, in_session, page_rows, skip, after) with ordinality h) r;
  return found;
end
$$;
