-- `GET /api/chat/history` without a session (the seed's "all sessions" mode) lists, for each of the
-- caller's sessions, what that session's own history lists: a session that has branched (an edit
-- or a regenerated answer, 20261201180531_conversation_trees.sql) only its conversation, the path
-- `chat_path` returns, and an unbranched one every message, as before. Until now this mode paged
-- every branch of a branched chat (the first try of an edited question, each regenerated answer),
-- and its `total` counted them all, while the same chat's history with `session_id` showed its path.
--
-- What each caller pays: one who has no branched session takes the same statement as before (the
-- user index scan, the total from chat_sessions.message_count). Otherwise the branched sessions'
-- paths are walked (chat_path, a few index probes per message on the path) and merged, newest
-- first, with the unbranched sessions' messages, read as before from the user index with the
-- branched sessions left out; the total is the unbranched sessions' message_count plus the paths'
-- lengths. The in-session mode is unchanged.

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
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at
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
             c.response_time, c.model, c.finish_reason, c.error_code, c.created_at
        from forked f cross join lateral public.chat_path(f.id) c
    ),
    p as (
      select u.* from (
        (select m.id, m.session_id, m.message_type, m.content, m.role_id, m.status, m.reply_to, m.tokens_used,
                m.response_time, m.model, m.finish_reason, m.error_code, m.created_at
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
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at
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
             m.response_time, m.model, m.finish_reason, m.error_code, m.created_at
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
