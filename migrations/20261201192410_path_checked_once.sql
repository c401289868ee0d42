-- The path as its owner reads it, checked once: chat_path and chat_forks run as definer and
-- answer only for a session whose user_id is the caller's (auth.uid()), so nobody else gets a row,
-- exactly as under RLS. Under RLS every step of the walk re-applied the messages' policy and the
-- plans the policy led to were slow at a million messages (bench/trees_bench.py: 400 ms for a
-- 200-message path as the owner, 2.5 ms for the same walk in the worker's claim context).
--
-- Both start from 20261201190349_tree_walks_by_index.sql (their current definitions).

create or replace function public.chat_path(session_id uuid) returns setof public.chat_messages
language sql
stable
security definer
set search_path = ''
as $$
  with recursive leaf as (
    select public.chat_descend(coalesce(
             s.current_leaf_id,
             (select m.id from public.chat_messages m where m.session_id = s.id
               order by m.created_at desc, m.id desc limit 1))) as id
      from public.chat_sessions s
     where s.id = chat_path.session_id
       and s.user_id = auth.uid()
  ), up(msg, depth) as (
    select m, 0 from public.chat_messages m join leaf on m.id = leaf.id
    union all
    select p.m, u.depth + 1
      from up u
      cross join lateral (select m from public.chat_messages m where m.id = (u.msg).parent_id limit 1) p
  )
  select (u.msg).* from up u order by u.depth desc
$$;

create or replace function public.chat_forks(session_id uuid)
returns table (message_id uuid, siblings uuid[])
language sql
stable
security definer
set search_path = ''
as $$
  select p.id, f.ids
    from public.chat_path(chat_forks.session_id) p
    cross join lateral (
      select array_agg(c.id order by c.created_at, c.id) as ids
        from (select c.id, c.created_at from public.chat_messages c
               where p.parent_id is not null and c.parent_id = p.parent_id
              union all
              select c.id, c.created_at from public.chat_messages c
               where p.parent_id is null and c.session_id = p.session_id and c.parent_id is null) c
    ) f
   where cardinality(f.ids) > 1
$$;
