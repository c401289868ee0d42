-- Two-factor sign-in covers the remaining SECURITY DEFINER doors. A user with a verified factor
-- holding only an aal1 token (a stolen password, no code) sees none of their rows: every table's
-- RESTRICTIVE policy asks `mfa_satisfied()` (20261201190350, 20261201193937). Functions that run as
-- their definer skip policies, and six of those granted to signed-in users checked only that the
-- rows were the caller's:
--   * chat_path (and chat_forks, which reads through it) returned the whole conversation of a
--     session named by its id: the words RLS hid;
--   * search_message_hits named the caller's messages matching any query (the ids and ranks);
--   * request_answer asked another answer (charged to the account), chat_branch copied a chat,
--     revoke_api_key revoked a key.
-- Now the reads answer nothing at aal1, as RLS does, and the writes are refused (42501, the
-- sentence refuse_without_second_factor says) or do nothing; a key's own token and users without a
-- factor are unaffected (mfa_satisfied's rule). chat_branch is refused by a trigger on the chat it
-- creates (chat_sessions inserts carrying a user's claims; the database owner's and service_role's
-- skip the call). Each function is its latest definition with only that check added;
-- tests/db/test_mfa_coverage.py walks every definer function a signed-in user may call.

create or replace function public.chat_path(session_id uuid) returns setof public.chat_messages
language sql
stable
security definer
set search_path = ''
set jit = off
as $$
  with recursive leaf as (
    select public.chat_descend(coalesce(
             s.current_leaf_id,
             (select m.id from public.chat_messages m where m.session_id = s.id
               order by m.created_at desc, m.id desc limit 1))) as id
      from public.chat_sessions s
     where s.id = chat_path.session_id
       and s.user_id = auth.uid()
       and (select public.mfa_satisfied())
  ), up(msg, depth) as (
    select m, 0 from public.chat_messages m join leaf on m.id = leaf.id
    union all
    select p.m, u.depth + 1
      from up u
      cross join lateral (select m from public.chat_messages m where m.id = (u.msg).parent_id limit 1) p
  )
  select (u.msg).* from up u order by u.depth desc
$$;

create or replace function public.revoke_api_key(key_id uuid) returns boolean
language sql
volatile
security definer
set search_path = ''
as $$
  with revoked as (
    update public.api_keys k set revoked_at = now()
     where k.id = key_id and k.user_id = auth.uid() and k.revoked_at is null
       and (select public.mfa_satisfied())
    returning 1
  )
  select exists (select 1 from revoked)
$$;

create trigger chat_sessions_second_factor before insert on public.chat_sessions
  for each row when (coalesce(current_setting('request.jwt.claims', true), '') <> '')
  execute function public.refuse_without_second_factor();

create or replace function public.search_message_hits(
  query text, session uuid, max_results integer, skip integer
) returns table (id uuid, rank real)
language plpgsql stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  tsq tsquery := public.search_query(query);
  page integer := least(greatest(max_results, 1), 100);
  skipped integer := greatest(skip, 0);
  returned integer;
  window_full boolean;
  ranked integer;
  edge_at timestamptz;
  edge_id uuid;
begin
  if numnode(tsq) = 0 or not public.mfa_satisfied() then
    return;
  end if;
  return query
    select c.id, ts_rank(c.search_vector, tsq) as rank
      from (select m.id, m.content, m.created_at, m.search_vector
              from public.chat_messages m
             where m.user_id = auth.uid()
               and m.search_vector @@ tsq
               and (session is null or m.session_id = session)
             order by m.created_at desc, m.id desc
             limit 500) c
     where public.search_recheck(query, c.content)
     order by 2 desc, c.created_at desc, c.id
     limit page offset skipped;
  get diagnostics returned = row_count;
  if returned = page then
    return;
  end if;
  -- The page reaches past the ranked matches: how many there are, and the oldest of the 500.
  select count(*) = 500, count(*) filter (where public.search_recheck(query, c.content)),
         (array_agg(c.created_at order by c.created_at, c.id))[1], (array_agg(c.id order by c.created_at, c.id))[1]
    into window_full, ranked, edge_at, edge_id
    from (select m.id, m.content, m.created_at
            from public.chat_messages m
           where m.user_id = auth.uid()
             and m.search_vector @@ tsq
             and (session is null or m.session_id = session)
           order by m.created_at desc, m.id desc
           limit 500) c;
  if not window_full then
    return;  -- every match was ranked
  end if;
  return query
    select m.id, null::real
      from public.chat_messages m
     where m.user_id = auth.uid()
       and m.search_vector @@ tsq
       and (session is null or m.session_id = session)
       and (m.created_at, m.id) < (edge_at, edge_id)
       and public.search_recheck(query, m.content)
     order by m.created_at desc, m.id desc
     limit page - returned offset greatest(skipped - ranked, 0);
end;
$$;

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
  if not public.mfa_satisfied() then
    raise exception 'enter your two-factor code first (aal2 required)' using errcode = '42501';
  end if;
  select * into q from public.chat_messages m
   where m.id = request_answer.question and m.message_type = 'user' and m.user_id = auth.uid();
  if not found then
    raise exception 'QuestionNotFound: no such question' using errcode = 'PT404';
  end if;
  if public.is_guest() and public.guest_messages_left() <= 0 then
    raise exception 'GuestLimitReached: sign up to ask for more answers' using errcode = 'PT403';
  end if;
  top := coalesce((select max(m.answer_no) from public.chat_messages m where m.reply_to = q.id), 0);
  select * into a from public.chat_messages m where m.reply_to = q.id and m.answer_no = request_answer.answer_no;
  if found then
    return a;
  end if;
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

