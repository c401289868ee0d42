-- History search finds an answer that continued a /v1 request's words (Qwen's partial mode,
-- 20261206142000) as its owner reads it: the words, then the continuation. Its row holds the
-- continuation only (what /v1 returns and what was billed); the words are the question's
-- `question_contexts.parameters ->> 'prefix'`, which search never read: a search for the words
-- found nothing, one across words and continuation (`Beijing palace` for 'My favourite park in
-- Beijing is ' + 'the Summer Palace') nothing, and a hit's snippet was the continuation cut of its
-- start, where the chat shows the answer whole (continued_words, 20261206151000).
--
-- * `chat_messages.continues`: the words an answer continues, on its own row (null for any other
--   row and for an answer to a question without words). A stored vector cannot read another table,
--   and a probe of question_contexts for every candidate of a search would cost one per match. Set
--   by a trigger, never by a client (no insert or update grant): on an answer's insert from its
--   question's context (one primary-key probe per answer inserted, none for a question), and when a
--   question's context with words is stored after its answers (a branch copies the answers, then
--   the questions' contexts). Readable as any column of the owner's row (RLS on chat_messages), so
--   a Realtime change of the row carries it, where the computed field continued_words (kept, for
--   the readers that name it) is in no change.
-- * `search_vector` is no longer a generated column (PostgreSQL 15 cannot change a generation
--   expression without dropping the column, which rewrote the table and its indexes under a lock
--   in 20261205170070): DROP EXPRESSION keeps every stored vector and index as it is, and a trigger
--   keeps it what the expression gave, with the words first: a question's, or a final answer's,
--   document of `continues || content`, null while an answer is pending or streaming. It computes
--   the vector again only when the content, the status, the type, the words or the vector itself
--   change (an update setting `search_vector = default`, as 20261206100090 did, gets it computed
--   again, not cleared); other updates keep it. Named to run after the BEFORE triggers that may
--   change a row's content or status (they fire in name order), as a generated column is computed
--   after them all.
-- * search_message_hits rechecks a continued answer's CJK runs in its words and continuation
--   (search_recheck_shown; any other row as before, its content alone, nothing concatenated), and
--   search_messages gives a hit's content as the words, then the continuation. Security invoker
--   as before: the words are on the caller's own rows, so nothing of another user's is read.
--
-- Existing continued answers get their words once, below (chat_messages_touch_updated_at off for
-- that update, as in 20261206100090, so no updated_at moves).

alter table public.chat_messages add column continues text;
comment on column public.chat_messages.continues is
  'The words of a /v1 request an answer continued (its question''s context prefix), else null; set by triggers.';

alter table public.chat_messages alter column search_vector drop expression;

create function public.chat_messages_search_vector() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    -- never a client's: the question's words, for an answer to one that has them
    new.continues := case when new.message_type = 'assistant' then
                       (select nullif(c.parameters ->> 'prefix', '') from public.question_contexts c
                         where c.message_id = new.reply_to)
                     end;
  elsif new.content is not distinct from old.content and new.status is not distinct from old.status
        and new.message_type is not distinct from old.message_type
        and new.continues is not distinct from old.continues
        and new.search_vector is not distinct from old.search_vector then
    return new;
  end if;
  new.search_vector := case when new.message_type = 'user' or new.status not in ('pending', 'streaming')
                            then public.search_document(coalesce(new.continues, '') || new.content) end;
  return new;
end;
$$;

create trigger chat_messages_search_vector before insert or update on public.chat_messages
  for each row execute function public.chat_messages_search_vector();

-- A question's context with words stored after its answers (a branch's copy): they get them.
create function public.question_contexts_words_to_answers() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.chat_messages a
     set continues = nullif(new.parameters ->> 'prefix', '')
   where a.reply_to = new.message_id and a.message_type = 'assistant'
     and a.continues is distinct from nullif(new.parameters ->> 'prefix', '');
  return null;
end;
$$;

create trigger question_contexts_words_to_answers after insert on public.question_contexts
  for each row when (new.parameters ? 'prefix')
  execute function public.question_contexts_words_to_answers();

alter table public.chat_messages disable trigger chat_messages_touch_updated_at;
update public.chat_messages a
   set continues = nullif(c.parameters ->> 'prefix', '')
  from public.question_contexts c
 where c.parameters ? 'prefix' and a.reply_to = c.message_id and a.message_type = 'assistant';
alter table public.chat_messages enable trigger chat_messages_touch_updated_at;

-- search_recheck (20261206100110) of what a row shows: a continued answer's words, then its content.
create function public.search_recheck_shown(query text, continues text, content text) returns boolean
language sql
immutable parallel safe
as $$
  select public.search_recheck(query, case when continues is null then content else continues || content end)
$$;

-- 20261206100100_a_word_rare_for_its_user_is_read_from_the_index.sql's, a continued answer rechecked
-- with its words (search_recheck_shown); nothing else changes.
create or replace function public.search_message_hits(
  query text, session uuid, max_results integer, skip integer, after text
) returns table (id uuid, rank real, cursor text)
language plpgsql stable
security definer
set search_path = ''
set plan_cache_mode = force_custom_plan
set enable_seqscan = off
as $$
#variable_conflict use_column
declare
  tsq tsquery;
  me uuid := auth.uid();
  page integer := least(greatest(max_results, 1), 100);
  skipped integer := greatest(skip, 0);
  returned integer := 0;
  ranked integer;
  window_full boolean := false;
  phase text;
  at_rank real;
  at_time timestamptz;
  at_id uuid;
  edge_at timestamptz;
  edge_id uuid;
  parts jsonb;
  bad boolean := false;
  r record;
  by_index boolean;
  hit_ids uuid[];
  hit_ranks real[];
  hit_times timestamptz[];
begin
  if char_length(query) > 1000 then
    perform public.raise_refusal(400, 'SearchTooLong', 'A search is at most 1000 characters.',
                                 jsonb_build_object('limit', 1000, 'length', char_length(query)));
  end if;
  if after is not null then
    begin
      parts := convert_from(decode(rpad(translate(after, '-_', '+/'), (char_length(after) + 3) / 4 * 4, '='),
                                   'base64'), 'UTF8')::jsonb;
      phase := parts->>0;
      at_rank := (parts->>1)::float8::real;
      at_time := 'epoch'::timestamptz + (parts->>2)::bigint * interval '1 microsecond';
      at_id := (parts->>3)::uuid;
      edge_at := 'epoch'::timestamptz + (parts->>4)::bigint * interval '1 microsecond';
      edge_id := (parts->>5)::uuid;
    exception when others then
      bad := true;
    end;
    if bad or jsonb_typeof(parts) is distinct from 'array' or phase is null or phase not in ('r', 'o')
       or at_time is null or at_id is null or (phase = 'r' and at_rank is null)
       or (edge_at is null) <> (edge_id is null) or (phase = 'o' and edge_at is null) then
      perform public.raise_refusal(422, 'InvalidCursor', 'The cursor is not one this search gave.', '{}');
    end if;
    window_full := edge_at is not null;
  end if;
  tsq := public.search_query(query);
  if me is null or numnode(tsq) = 0 or not public.mfa_satisfied() then
    return;
  end if;
  if after is null then
    -- The first page: the newest 500 matches ranked, as before; the window's edge read alongside.
    -- Where the planner expects 500 matches of the user's or more, first from a walk of their
    -- newest 5,000 messages; if they do not hold 500 matches (or none for this page), the word is
    -- rare for the user and the page is read again, its window from the index (its rows are held
    -- until then). Where it expects fewer, from the index at once.
    by_index := public.search_expected_matches(me, tsq, session) < 500;
    loop
      returned := 0;
      hit_ids := '{}';
      hit_ranks := '{}';
      hit_times := '{}';
      for r in
        select x.id, x.rank, x.created_at, x.n, x.edge_at, x.edge_id
          from (select c.id, ts_rank(c.search_vector, tsq) as rank, c.created_at, c.content, c.continues,
                       count(*) over w as n, last_value(c.created_at) over w as edge_at,
                       last_value(c.id) over w as edge_id
                  from (select * from (select w.id, w.content, w.continues, w.created_at, w.search_vector
                                    from (select m.id, m.content, m.continues, m.created_at, m.search_vector
                                            from public.chat_messages m
                                           where not by_index
                                             and m.user_id = me
                                             and (session is null or m.session_id = session)
                                           order by m.created_at desc, m.id desc
                                           limit 5000) w
                                   where w.search_vector @@ tsq
                                   order by w.created_at desc, w.id desc
                                   limit 500) walk
                        union all
                        select * from (select g.id, g.content, g.continues, g.created_at, g.search_vector
                                         from (select m.id, m.content, m.continues, m.created_at, m.search_vector
                                                 from public.chat_messages m
                                                where by_index
                                                  and m.user_id = me
                                                  and m.search_vector @@ tsq
                                                  and (session is null or m.session_id = session)
                                               offset 0) g
                                        order by g.created_at desc, g.id desc
                                        limit 500) indexed) c
                window w as (order by c.created_at desc, c.id desc
                             rows between unbounded preceding and unbounded following)) x
         where public.search_recheck_shown(query, x.continues, x.content)
         order by x.rank desc, x.created_at desc, x.id
         limit page offset skipped
      loop
        window_full := r.n = 500;
        edge_at := case when window_full then r.edge_at end;
        edge_id := case when window_full then r.edge_id end;
        hit_ids := hit_ids || r.id;
        hit_ranks := hit_ranks || r.rank;
        hit_times := hit_times || r.created_at;
        returned := returned + 1;
      end loop;
      exit when by_index or (returned > 0 and window_full);
      by_index := true;
    end loop;
    return query
      select h.i, h.r, public.search_cursor('r', h.r, h.t, h.i, edge_at, edge_id)
        from unnest(hit_ids, hit_ranks, hit_times) with ordinality as h(i, r, t, o)
       order by h.o;
    if returned = page then
      return;
    end if;
    if returned > 0 then
      ranked := skipped + returned;
    else
      -- The page reaches past the ranked matches: how many there are, and the oldest of the 500.
      select count(*) = 500, count(*) filter (where public.search_recheck_shown(query, c.continues, c.content)),
             (array_agg(c.created_at order by c.created_at, c.id))[1], (array_agg(c.id order by c.created_at, c.id))[1]
        into window_full, ranked, edge_at, edge_id
        from (select * from (select w.id, w.content, w.continues, w.created_at
                                from (select m.id, m.content, m.continues, m.created_at, m.search_vector
                                        from public.chat_messages m
                                       where not by_index
                                         and m.user_id = me
                                         and (session is null or m.session_id = session)
                                       order by m.created_at desc, m.id desc
                                       limit 5000) w
                               where w.search_vector @@ tsq
                               order by w.created_at desc, w.id desc
                               limit 500) walk
              union all
              select * from (select g.id, g.content, g.continues, g.created_at
                               from (select m.id, m.content, m.continues, m.created_at
                                       from public.chat_messages m
                                      where by_index
                                        and m.user_id = me
                                        and m.search_vector @@ tsq
                                        and (session is null or m.session_id = session)
                                     offset 0) g
                              order by g.created_at desc, g.id desc
                              limit 500) indexed) c;
    end if;
  elsif phase = 'r' then
    -- A later ranked page: the matches from the window's edge on (all of them when it had none),
    -- after the cursor in (rank desc, created_at desc, id) order.
    for r in
      select x.id, x.rank, x.created_at
        from (select m.id, ts_rank(m.search_vector, tsq) as rank, m.created_at, m.content, m.continues
                from public.chat_messages m
               where m.user_id = me
                 and m.search_vector @@ tsq
                 and (session is null or m.session_id = session)
                 and (edge_at is null or (m.created_at, m.id) >= (edge_at, edge_id))) x
       where (x.rank < at_rank
              or (x.rank = at_rank and (x.created_at < at_time or (x.created_at = at_time and x.id > at_id))))
         and public.search_recheck_shown(query, x.continues, x.content)
       order by x.rank desc, x.created_at desc, x.id
       limit page offset skipped
    loop
      id := r.id;
      rank := r.rank;
      cursor := public.search_cursor('r', r.rank, r.created_at, r.id, edge_at, edge_id);
      returned := returned + 1;
      return next;
    end loop;
    if returned = page or not window_full then
      return;
    end if;
    if returned > 0 or skipped = 0 then
      ranked := skipped + returned;
    else
      select count(*) into ranked
        from (select ts_rank(m.search_vector, tsq) as rank, m.created_at, m.id, m.content, m.continues
                from public.chat_messages m
               where m.user_id = me
                 and m.search_vector @@ tsq
                 and (session is null or m.session_id = session)
                 and (m.created_at, m.id) >= (edge_at, edge_id)) x
       where (x.rank < at_rank
              or (x.rank = at_rank and (x.created_at < at_time or (x.created_at = at_time and x.id > at_id))))
         and public.search_recheck_shown(query, x.continues, x.content);
    end if;
  else
    ranked := 0;
  end if;
  if not window_full then
    return;  -- every match was ranked
  end if;
  -- Every older match, newest first (after the cursor's when it stands among them).
  return query
    select m.id, null::real, public.search_cursor('o', null, m.created_at, m.id, edge_at, edge_id)
      from public.chat_messages m
     where m.user_id = me
       and m.search_vector @@ tsq
       and (session is null or m.session_id = session)
       and (m.created_at, m.id) < (edge_at, edge_id)
       and (phase is distinct from 'o' or (m.created_at, m.id) < (at_time, at_id))
       and public.search_recheck_shown(query, m.continues, m.content)
     order by m.created_at desc, m.id desc
     limit page - returned offset greatest(skipped - ranked, 0);
end;
$$;

revoke execute on function public.search_message_hits(text, uuid, integer, integer, text) from public, anon;
grant execute on function public.search_message_hits(text, uuid, integer, integer, text) to authenticated, service_role;

-- 20261206100080_search_results_page_by_cursor.sql's, a continued answer's content its words, then it.
create or replace function public.search_messages(
  query text,
  session uuid default null,
  max_results integer default 20,
  skip integer default 0,
  after text default null
) returns table (
  id uuid,
  session_id uuid,
  message_type public.message_type,
  content text,
  role_id varchar,
  created_at timestamptz,
  rank real,
  cursor text
)
language sql stable
security invoker
set search_path = ''
as $$
  select m.id, m.session_id, m.message_type, m.content, m.role_id, m.created_at, h.rank, h.cursor
    from public.search_message_hits(query, session, max_results, skip, after) with ordinality h
   cross join lateral (
     select r.id, r.session_id, r.message_type, coalesce(r.continues, '') || r.content as content, r.role_id,
            r.created_at
       from public.chat_messages r
      where r.id = h.id
      limit 1
   ) m
   order by h.ordinality
$$;
