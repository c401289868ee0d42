-- Generated session titles (worker/titles.py): after the first answer of a session the worker
-- asks a cheap model for a title in the conversation's language and stores it, but only into a
-- session that still has no title, in the same statement that checks it: a title the user set,
-- even a moment earlier, is never overwritten. service_role only.

create or replace function public.worker_title_needed(session_id uuid) returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (select 1 from public.chat_sessions s where s.id = worker_title_needed.session_id and s.title is null)
$$;

create or replace function public.worker_set_title(session_id uuid, title text) returns boolean
language sql
volatile
set search_path = ''
as $$
  with named as (
    update public.chat_sessions s
       set title = left(btrim(worker_set_title.title), 200)
     where s.id = worker_set_title.session_id
       and s.title is null
       and char_length(btrim(worker_set_title.title)) > 0
    returning 1
  )
  select exists (select 1 from named)
$$;

revoke execute on function public.worker_title_needed(uuid) from public, anon, authenticated;
revoke execute on function public.worker_set_title(uuid, text) from public, anon, authenticated;
grant execute on function public.worker_title_needed(uuid) to service_role;
grant execute on function public.worker_set_title(uuid, text) to service_role;
