-- Conversations as trees. Every message has a parent (`parent_id`, null for a session's first
-- questions): an assistant row's parent is its question, a question's parent is the answer it
-- follows. Editing a question adds a sibling under the same parent; regenerating adds another
-- answer to the same question. The session remembers the message the user last looked at
-- (`current_leaf_id`); "the conversation" is the path root -> that message -> its newest
-- descendants, and it is the only history the worker sends to the model.
--
-- Guarantees:
--   * Every answer is requested exactly once: an answer is the row (reply_to, answer_no), unique.
--     The question requests answer 1; `request_answer(question, n)` requests answer n and only
--     when n is one more than the answers that exist (a second click or retry asking for the same
--     n gets the same row). The worker claims rows, it never invents a number.
--   * A question's parent is null or an answer, except while the question it follows has no
--     answer yet: when the worker creates that answer (worker_claim), the question moves under
--     it, so the path never skips an answer.
--   * A question whose parent is not given follows the conversation: in a session that never
--     branched, the newest message (rows inserted earlier in the same statement count, so a bulk
--     insert of a linear conversation links up); in a branched one, the end of the current path.
--     `parent_id` given as null is a new root (editing a first question).
--   * A parent is always a message of the same session; `current_leaf_id` too.
--   * Deleting messages splices them out: what followed a deleted message follows its nearest
--     remaining ancestor (answers still go with their question, by `reply_to`).
--   * `branched` becomes true on the first edit or regeneration and stays true: until then the
--     path is every message in time order, which is what the seed's history reads.

alter table public.chat_messages
  add column parent_id uuid references public.chat_messages (id) deferrable initially deferred,
  add column answer_no integer check (answer_no >= 1);

alter table public.chat_sessions
  add column current_leaf_id uuid references public.chat_messages (id) on delete set null,
  add column branched boolean not null default false,
  add column pinned_at timestamptz;

-- Existing conversations are lines: an answer hangs under its question, anything else under the
-- message before it.
update public.chat_messages set answer_no = 1, parent_id = reply_to where message_type = 'assistant';
update public.chat_messages m
   set parent_id = p.prev
  from (select id, lag(id) over (partition by session_id order by created_at, id) as prev
          from public.chat_messages) p
 where p.id = m.id and m.message_type <> 'assistant' and p.prev is not null;
update public.chat_sessions s
   set current_leaf_id = (select m.id from public.chat_messages m where m.session_id = s.id
                           order by m.created_at desc, m.id desc limit 1);

-- "Not given" for parent_id: replaced by the insert trigger before the foreign key is checked.
alter table public.chat_messages alter column parent_id set default '00000000-0000-0000-0000-000000000000';

alter table public.chat_messages drop constraint chat_messages_reply_to_key;
alter table public.chat_messages add constraint chat_messages_answer_unique unique (reply_to, answer_no);
alter table public.chat_messages add constraint chat_messages_answer_shape check (
  case when message_type = 'assistant' then answer_no is not null and parent_id = reply_to
       else answer_no is null end
);

create index chat_messages_parent_idx on public.chat_messages (parent_id, created_at desc, id desc)
  where parent_id is not null;
create index chat_messages_roots_idx on public.chat_messages (session_id, created_at desc, id desc)
  where parent_id is null;
create index chat_sessions_leaf_idx on public.chat_sessions (current_leaf_id) where current_leaf_id is not null;
create index chat_sessions_user_pinned_idx on public.chat_sessions (user_id, pinned_at desc nulls last,
  last_message_at desc nulls last);

-- The end of the conversation below `start`: follow the newest child down to a leaf.
create or replace function public.chat_descend(start uuid) returns uuid
language sql
stable
set search_path = ''
as $$
  with recursive down(id, depth) as (
    select start, 0 where start is not null
    union all
    select c.id, d.depth + 1
      from down d
      cross join lateral (select m.id from public.chat_messages m
                           where m.parent_id = d.id
                           order by m.created_at desc, m.id desc limit 1) c
  )
  select id from down order by depth desc limit 1
$$;

-- Place a new row in its session's tree (see the guarantees above). Security definer: it reads
-- the session's messages whoever inserts.
create or replace function public.chat_messages_place() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  unset constant uuid := '00000000-0000-0000-0000-000000000000';
  is_branched boolean;
  leaf uuid;
  newest uuid;
  parent public.chat_messages;
begin
  if new.message_type = 'assistant' then
    new.parent_id := new.reply_to;
    new.answer_no := coalesce(new.answer_no, 1);
    return new;
  end if;
  if new.parent_id is not distinct from unset then
    -- Follow the conversation. The newest message has no answer if it is a question (its answer
    -- would be newer), so it is the parent as it stands. One index probe: bulk inserts stay fast.
    select s.branched, s.current_leaf_id, n.id into is_branched, leaf, newest
      from public.chat_sessions s
      left join lateral (select m.id from public.chat_messages m where m.session_id = s.id
                          order by m.created_at desc, m.id desc limit 1) n on true
     where s.id = new.session_id;
    new.parent_id := case when is_branched then public.chat_descend(leaf) else newest end;
    return new;
  end if;
  if new.parent_id is null then
    if exists (select 1 from public.chat_messages m where m.session_id = new.session_id and m.parent_id is null) then
      update public.chat_sessions s set branched = true where s.id = new.session_id and not s.branched;
    end if;
    return new;
  end if;
  select * into parent from public.chat_messages m where m.id = new.parent_id;
  if not found or parent.session_id <> new.session_id then
    raise exception 'parent_id must be a message of the same session' using errcode = '42501';
  end if;
  if parent.message_type = 'user' then
    -- Follow the question's newest answer; an unanswered question keeps it until the worker
    -- claims its answer (worker_claim moves it under the answer then).
    new.parent_id := coalesce((select a.id from public.chat_messages a where a.reply_to = parent.id
                                order by a.answer_no desc limit 1), parent.id);
  end if;
  if exists (select 1 from public.chat_messages m where m.parent_id = new.parent_id) then
    update public.chat_sessions s set branched = true where s.id = new.session_id and not s.branched;
  end if;
  return new;
end;
$$;

create trigger chat_messages_place before insert on public.chat_messages
  for each row execute function public.chat_messages_place();

-- Splice deleted messages out of the tree: each remaining child of a deleted message moves up to
-- the nearest ancestor this statement did not delete. Cascaded deletes (answers of a deleted
-- question) run as statements of their own first and move their children to the question; the
-- question's statement then moves them on (the foreign key is checked at commit).
create or replace function public.chat_messages_splice() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  with recursive orphans as (
    select c.id, c.parent_id
      from deleted d
      join public.chat_messages c on c.parent_id = d.id
     where c.message_type <> 'assistant'
  ), lift(id, target, depth) as (
    select o.id, o.parent_id, 0 from orphans o
    union all
    select l.id, d.parent_id, l.depth + 1 from lift l join deleted d on d.id = l.target
  )
  update public.chat_messages c
     set parent_id = l.target
    from (select distinct on (lift.id) lift.id, lift.target from lift order by lift.id, lift.depth desc) l
   where c.id = l.id;
  return null;
end;
$$;

create trigger chat_messages_splice after delete on public.chat_messages
  referencing old table as deleted for each statement
  execute function public.chat_messages_splice();

-- Counters (as before) plus the current leaf: it moves to the newest question a statement
-- inserts, and on to an answer inserted for the question it points at.
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
           s.current_leaf_id)
    from (select session_id, count(*)::int as cnt, max(created_at) as latest,
                 (array_agg(id order by created_at desc, id desc) filter (where message_type = 'user'))[1] as asked,
                 array_agg(id order by created_at, id) filter (where message_type = 'assistant') as answers,
                 array_agg(reply_to order by created_at, id) filter (where message_type = 'assistant') as questions
            from inserted group by session_id) n
   where s.id = n.session_id;
  return null;
end;
$$;

-- current_leaf_id names a message of the session itself.
create or replace function public.chat_sessions_leaf_check() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.current_leaf_id is not null
     and not exists (select 1 from public.chat_messages m
                      where m.id = new.current_leaf_id and m.session_id = new.id) then
    raise exception 'current_leaf_id must be a message of the session' using errcode = '42501';
  end if;
  return new;
end;
$$;

create trigger chat_sessions_leaf_check before update of current_leaf_id on public.chat_sessions
  for each row when (new.current_leaf_id is distinct from old.current_leaf_id)
  execute function public.chat_sessions_leaf_check();

-- The conversation of a session as its owner sees it: root -> current leaf -> newest descendants
-- (the newest message when no leaf is set), oldest first. Security invoker: RLS decides.
create or replace function public.chat_path(session_id uuid) returns setof public.chat_messages
language sql
stable
set search_path = ''
as $$
  with recursive leaf as (
    select public.chat_descend(coalesce(
             s.current_leaf_id,
             (select m.id from public.chat_messages m where m.session_id = s.id
               order by m.created_at desc, m.id desc limit 1))) as id
      from public.chat_sessions s
     where s.id = chat_path.session_id
  ), up(msg, depth) as (
    select m, 0 from public.chat_messages m join leaf on m.id = leaf.id
    union all
    select m, u.depth + 1 from up u join public.chat_messages m on m.id = (u.msg).parent_id
  )
  select (u.msg).* from up u order by u.depth desc
$$;

-- For each message on the path that has siblings (edits of a question, answers to a question):
-- all of them, oldest first, so a client shows `‹ n / m ›` and can switch.
create or replace function public.chat_forks(session_id uuid)
returns table (message_id uuid, siblings uuid[])
language sql
stable
set search_path = ''
as $$
  select p.id, f.ids
    from public.chat_path(chat_forks.session_id) p
    cross join lateral (
      select array_agg(c.id order by c.created_at, c.id) as ids
        from public.chat_messages c
       where (p.parent_id is not null and c.parent_id = p.parent_id)
          or (p.parent_id is null and c.session_id = p.session_id and c.parent_id is null)
    ) f
   where cardinality(f.ids) > 1
$$;

-- Ask for answer number `answer_no` to one of the caller's questions: returns that answer's row,
-- creating it (pending, for the worker) only when it is the next number. Asking again for the
-- same number returns the same row; any other number is refused (PT409 StaleAnswerNumber).
create or replace function public.request_answer(question uuid, answer_no integer)
returns public.chat_messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  q public.chat_messages;
  a public.chat_messages;
  top integer;
begin
  select * into q from public.chat_messages m
   where m.id = request_answer.question and m.message_type = 'user' and m.user_id = auth.uid();
  if not found then
    raise exception 'QuestionNotFound: no such question' using errcode = 'PT404';
  end if;
  select * into a from public.chat_messages m where m.reply_to = q.id and m.answer_no = request_answer.answer_no;
  if found then
    return a;
  end if;
  top := coalesce((select max(m.answer_no) from public.chat_messages m where m.reply_to = q.id), 0);
  if request_answer.answer_no is distinct from top + 1 then
    raise exception 'StaleAnswerNumber: the next answer is number %', top + 1 using errcode = 'PT409';
  end if;
  insert into public.chat_messages as m
    (session_id, user_id, message_type, content, role_id, status, reply_to, answer_no)
  values (q.session_id, q.user_id, 'assistant', '', q.role_id, 'pending', q.id, request_answer.answer_no)
  on conflict (reply_to, answer_no) do nothing
  returning * into a;
  if a.id is null then
    select * into a from public.chat_messages m where m.reply_to = q.id and m.answer_no = request_answer.answer_no;
    return a;
  end if;
  update public.chat_sessions s
     set current_leaf_id = a.id, branched = s.branched or a.answer_no > 1
   where s.id = q.session_id;
  return a;
end;
$$;

-- A new session of the caller's holding a copy of the path root -> `message` (for a question:
-- up to the answer it follows, so nothing in the copy waits for an answer). Answers in flight
-- are copied as `cancelled` with their text so far; every copied answer is number 1.
create or replace function public.chat_branch(message uuid) returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  target public.chat_messages;
  origin public.chat_sessions;
  fresh uuid;
begin
  select * into target from public.chat_messages m where m.id = chat_branch.message and m.user_id = auth.uid();
  if not found then
    raise exception 'MessageNotFound: no such message' using errcode = 'PT404';
  end if;
  select * into origin from public.chat_sessions s where s.id = target.session_id;
  insert into public.chat_sessions (user_id, role_id, title)
  values (origin.user_id, origin.role_id, origin.title)
  returning id into fresh;
  with recursive up(msg, depth) as (
    select m, 0 from public.chat_messages m
     where m.id = case when target.message_type = 'assistant' then target.id else target.parent_id end
    union all
    select m, u.depth + 1 from up u join public.chat_messages m on m.id = (u.msg).parent_id
  ), copied as (
    select (u.msg).*, u.depth, gen_random_uuid() as copy_id from up u
  )
  insert into public.chat_messages
    (id, session_id, user_id, message_type, content, role_id, status, reply_to, answer_no, parent_id, model,
     input_tokens, output_tokens, tokens_used, response_time, finish_reason, error_code, error_message,
     attempts, created_at)
  select c.copy_id, fresh, c.user_id, c.message_type, c.content, c.role_id,
         case when c.status in ('pending', 'streaming') then 'cancelled'::public.message_status else c.status end,
         r.copy_id, case when c.message_type = 'assistant' then 1 end, p.copy_id, c.model,
         c.input_tokens, c.output_tokens, c.tokens_used, c.response_time, c.finish_reason, c.error_code,
         c.error_message, c.attempts, c.created_at
    from copied c
    left join copied p on p.id = c.parent_id
    left join copied r on r.id = c.reply_to
   order by c.depth desc;
  return fresh;
end;
$$;

-- The worker claims answer rows. `message_ids` name what asks for an answer: a question (its
-- answer 1) or an answer row itself (a requested or unfinished answer, any number). History is
-- the path above the question only: the newest `history_limit` questions and completed answers
-- among its nearest 2 x history_limit + 1 ancestors.
create or replace function public.worker_claim(
  message_ids uuid[],
  worker text,
  lease_seconds double precision,
  max_attempts integer,
  history_limit integer
) returns setof jsonb
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.chat_messages a
     set status = case when a.cancel_requested then 'cancelled'::public.message_status
                       else 'error'::public.message_status end,
         error_code = case when a.cancel_requested then null else 'AttemptsExhausted' end,
         error_message = case when a.cancel_requested then null
                              else 'The answer failed repeatedly; please ask again.' end,
         lease_owner = null,
         lease_expires_at = null
   where (a.id = any(message_ids) or (a.reply_to = any(message_ids) and a.answer_no = 1))
     and a.message_type = 'assistant'
     and a.status in ('pending', 'streaming')
     and coalesce(a.lease_expires_at, '-infinity') <= now()
     and (a.cancel_requested or a.attempts >= max_attempts);

  -- Questions: create answer 1, or take it over when unleased.
  return query
  with questions as (
    select q.id, q.session_id, q.user_id, q.role_id
      from public.chat_messages q
     where q.id = any(message_ids) and q.message_type = 'user'
     order by q.id
  ), claimed as (
    insert into public.chat_messages as a
      (session_id, user_id, message_type, content, role_id, status, reply_to, answer_no,
       lease_owner, lease_expires_at, attempts)
    select q.session_id, q.user_id, 'assistant', '', q.role_id, 'pending', q.id, 1,
           worker, now() + make_interval(secs => lease_seconds), 1
      from questions q
    on conflict (reply_to, answer_no) do update
       set attempts = a.attempts + 1,
           status = 'pending',
           content = '',
           lease_owner = excluded.lease_owner,
           lease_expires_at = excluded.lease_expires_at,
           error_code = null,
           error_message = null
     where a.status in ('pending', 'streaming')
       and coalesce(a.lease_expires_at, '-infinity') <= now()
    returning a.id, a.reply_to, a.attempts, a.answer_no
  ), moved as (
    -- Questions sent while this one had no answer follow the answer from now on.
    update public.chat_messages f
       set parent_id = c.id
      from claimed c
     where c.answer_no = 1 and f.parent_id = c.reply_to and f.message_type <> 'assistant'
  )
  select public.worker_claim_context(c.id, c.reply_to, c.attempts, c.answer_no, history_limit) from claimed c;

  -- Answer rows named directly (requested answers, retakes); a row just claimed above holds a
  -- fresh lease and is not taken again.
  return query
  with claimed as (
    update public.chat_messages a
       set attempts = a.attempts + 1,
           status = 'pending',
           content = '',
           lease_owner = worker,
           lease_expires_at = now() + make_interval(secs => lease_seconds),
           error_code = null,
           error_message = null
     where a.id = any(message_ids)
       and a.message_type = 'assistant'
       and a.status in ('pending', 'streaming')
       and coalesce(a.lease_expires_at, '-infinity') <= now()
    returning a.id, a.reply_to, a.attempts, a.answer_no
  )
  select public.worker_claim_context(c.id, c.reply_to, c.attempts, c.answer_no, history_limit) from claimed c;
end;
$$;

-- What a turn needs, for one claimed answer row: the question and its web_search, the session's
-- model and thinking, the role (message slug, else the session's role, else the built-in
-- `assistant`) and the history (newest first) as 20261201173909_models_thinking_search.sql has it:
-- only `content` of completed answers, and no question whose answer content moderation refused.
create or replace function public.worker_claim_context(
  answer_id uuid, question_id uuid, attempt integer, number integer, history_limit integer
) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
           'id', answer_id,
           'reply_to', q.id,
           'attempts', attempt,
           'answer_no', number,
           'session_id', q.session_id,
           'user_id', q.user_id,
           'question', q.content,
           'web_search', q.web_search,
           'session', jsonb_build_object('model', s.model, 'thinking', s.thinking),
           'role', (
             select jsonb_build_object('slug', r.slug, 'system_prompt', r.system_prompt,
                                       'personality', r.personality)
               from public.ai_roles r
              where r.is_active
                and ((r.slug = q.role_id and (r.created_by is null or r.created_by = q.user_id))
                     or r.id = s.role_id
                     or (r.slug = 'assistant' and r.created_by is null))
              order by case when r.slug = q.role_id then 0 when r.id = s.role_id then 1 else 2 end
              limit 1),
           'history', (
             with recursive up(id, parent_id, message_type, status, content, depth) as (
               select m.id, m.parent_id, m.message_type, m.status, m.content, 1
                 from public.chat_messages m
                where m.id = q.parent_id and history_limit > 0
               union all
               select m.id, m.parent_id, m.message_type, m.status, m.content, u.depth + 1
                 from up u join public.chat_messages m on m.id = u.parent_id
                where u.depth <= 2 * history_limit
             )
             select coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'type', h.message_type, 'content', h.content)
                                       order by h.depth), '[]'::jsonb)
               from (select * from up
                      where (up.message_type = 'user'
                             or (up.message_type = 'assistant' and up.status = 'completed'))
                        and not exists (select 1 from public.chat_messages x
                                         where x.reply_to = up.id and x.status = 'error'
                                           and x.error_code = 'ContentFiltered')
                      order by up.depth
                      limit greatest(history_limit, 0)) h))
    from public.chat_messages q
    join public.chat_sessions s on s.id = q.session_id
   where q.id = question_id
$$;

-- Questions that need a worker: recent ones with no answer row, and answer rows unfinished with
-- an expired or no lease (requested answers included). An answer 1 is named by its question, any
-- other by its own id; both are what worker_claim takes.
create or replace function public.worker_sweep(lookback_seconds double precision, max_results integer)
returns setof uuid
language sql
stable
set search_path = ''
as $$
  (select q.id
     from public.chat_messages q
    where q.message_type = 'user'
      and q.created_at > now() - make_interval(secs => lookback_seconds)
      and not exists (select 1 from public.chat_messages a where a.reply_to = q.id)
    order by q.created_at
    limit max_results)
  union all
  (select case when a.answer_no = 1 then a.reply_to else a.id end
     from public.chat_messages a
    where a.status in ('pending', 'streaming')
      and coalesce(a.lease_expires_at, '-infinity') <= now()
    order by a.lease_expires_at nulls first
    limit max_results)
$$;

revoke execute on function public.worker_claim_context(uuid, uuid, integer, integer, integer)
  from public, anon, authenticated;
grant execute on function public.worker_claim_context(uuid, uuid, integer, integer, integer) to service_role;

revoke execute on function public.chat_messages_place() from public, anon, authenticated;
revoke execute on function public.chat_sessions_leaf_check() from public, anon, authenticated;
revoke execute on function public.chat_messages_splice() from public, anon, authenticated;
revoke execute on function public.chat_descend(uuid) from public, anon;
revoke execute on function public.chat_path(uuid) from public, anon;
revoke execute on function public.chat_forks(uuid) from public, anon;
revoke execute on function public.request_answer(uuid, integer) from public, anon;
revoke execute on function public.chat_branch(uuid) from public, anon;
grant execute on function public.chat_descend(uuid) to authenticated, service_role;
grant execute on function public.chat_path(uuid) to authenticated, service_role;
grant execute on function public.chat_forks(uuid) to authenticated, service_role;
grant execute on function public.request_answer(uuid, integer) to authenticated;
grant execute on function public.chat_branch(uuid) to authenticated;

-- The owner picks the branch shown, pins sessions, and writes questions under a chosen parent.
grant update (current_leaf_id, pinned_at) on public.chat_sessions to authenticated;
grant insert (parent_id) on public.chat_messages to authenticated;
