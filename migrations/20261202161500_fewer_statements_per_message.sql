-- Less work in Postgres for every message written (issue 16: a turn at 50 conversations cost
-- Postgres ~10 ms of CPU, most of it fixed per statement rather than per row: executor start-up of
-- each statement the triggers run, the generated column's expression planned again, one more index
-- to maintain). Behaviour is unchanged (tests/db, tests/ops/test_lifecycle.py).
--
-- 1. search_document was a SQL function, which Postgres inlines into the expression that uses it:
--    the search_vector generated column is planned again for every statement that writes a row
--    (a question, an answer's claim, each write of an answer), and inlining parsed and analysed
--    the function's body each time (~9 % of a backend's CPU in such a statement, `perf`). As
--    PL/pgSQL it is called, not inlined, and its expression is kept for the session. Like the other
--    helpers it runs once per stored row, so it carries no `set search_path` (a SET clause is a
--    configuration save and restore per call); every name in it is schema-qualified. Same results
--    for every input, so the stored vectors stay valid.
create or replace function public.search_document(txt text) returns tsvector
language plpgsql
immutable parallel safe
as $$
begin
  return pg_catalog.to_tsvector('pg_catalog.english'::pg_catalog.regconfig,
                                pg_catalog.regexp_replace(coalesce(txt, ''), public.search_cjk_pattern(), ' ', 'g'))
         operator(pg_catalog.||) pg_catalog.array_to_tsvector(public.search_cjk_terms(txt));
end;
$$;

-- 2. A question into an archived session brings the session back (20261124000900_data_lifecycle.sql).
--    That was a second statement trigger on every insert, a second update statement of the
--    session; now the update that counts the new messages does it too, for the same rows: a
--    session that received a question (`asked`) loses archived_at and, if it was archived, becomes
--    active again. An answer alone changes neither.
create or replace function public.chat_sessions_count_inserted() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.chat_sessions s
     set message_count = s.message_count + n.cnt,
         last_message_at = greatest(s.last_message_at, n.latest),
         current_leaf_id = coalesce(
           n.answers[array_position(n.questions, coalesce(n.asked, s.current_leaf_id))],
           n.asked,
           s.current_leaf_id),
         is_active = case when n.asked is not null and s.archived_at is not null then true else s.is_active end,
         archived_at = case when n.asked is not null then null else s.archived_at end
    from (select session_id, count(*)::int as cnt, max(created_at) as latest,
                 (array_agg(id order by created_at desc, id desc) filter (where message_type = 'user'))[1] as asked,
                 array_agg(id order by created_at, id) filter (where message_type = 'assistant') as answers,
                 array_agg(reply_to order by created_at, id) filter (where message_type = 'assistant') as questions
            from inserted group by session_id) n
   where s.id = n.session_id;
  return null;
end;
$$;

drop trigger chat_messages_unarchive on public.chat_messages;
drop function public.chat_sessions_unarchive();

-- 3. An index on message_type (two values, each about half the table) serves no query and cost an
--    index insert per message; on a young table whose statistics still say it is empty, the
--    planner even preferred it to the primary key for a lookup by id (a flush went through every
--    answer in the table to find its own).
drop index public.chat_messages_type_idx;
