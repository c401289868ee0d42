-- The seed API's history carries a searched answer's sources. An answer that searched the web
-- cites its sources as [1], [2] (`chat_messages.sources`, the web pages the worker stored), and the
-- web app, shared links and /v1 show them; `GET /api/chat/history` returned the text alone, so a
-- chat searched in the web app and read through the API cited numbers that pointed at nothing.
-- Each page's messages now carry `sources` (null for a question and an answer that did not
-- search), in every mode.
--
-- The body is 20261205140000_history_of_all_sessions_follows_each_conversation.sql's, with
-- `sources` after `created_at` in each row of the page.

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
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at, m.sources
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
             c.response_time, c.model, c.finish_reason, c.error_code, c.created_at, c.sources
        from forked f cross join lateral public.chat_path(f.id) c
    ),
    p as (
      select u.* from (
        (select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
                m.response_time, m.model, m.finish_reason, m.error_code, m.created_at, m.sources
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
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at, m.sources
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
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at, m.sources
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
