-- The claim tells the worker what Storage holds for each file it names, so the worker checks a
-- file it already read without asking Storage (worker/images.py, worker/documents.py).
--
-- Every attachment of the question and of its history (objects of the private `attachments`
-- bucket, migrations/20261201173043_storage_buckets.sql) comes with `etag`: the object's ETag as
-- Storage serves it (storage.objects.metadata.eTag), or null when the object is gone (deleted since
-- the question was asked). Before, each earlier image or document cost the worker a Storage
-- request on every later turn (If-None-Match -> 304, or a HEAD for a signed link), ~2.5 ms of the
-- gateway's CPU each and on the first token's path; now one index lookup per file inside the claim.
-- The worker still reads a file it has not kept, or whose ETag changed (replaced), from Storage.
-- The worker acts as service_role, which reads storage.objects on Supabase as here.

-- PL/pgSQL (not SQL) so the lookup is planned once per connection, not in every claim.
create or replace function public.worker_files_stored(files jsonb) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  if files is null or files = '[]'::jsonb then
    return coalesce(files, '[]'::jsonb);
  end if;
  return (
    select coalesce(jsonb_agg(f.item || jsonb_build_object('etag', o.metadata ->> 'eTag') order by f.n), '[]'::jsonb)
      from jsonb_array_elements(files) with ordinality as f(item, n)
      left join storage.objects o on o.bucket_id = 'attachments' and o.name = f.item ->> 'path'
  );
end;
$$;

revoke execute on function public.worker_files_stored(jsonb) from public, anon, authenticated;
grant execute on function public.worker_files_stored(jsonb) to service_role;

create or replace function public.worker_claim_context(
  answer_id uuid, question_id uuid, attempt integer, number integer, history_limit integer
) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return (select jsonb_build_object(
           'id', answer_id,
           'reply_to', q.id,
           'attempts', attempt,
           'answer_no', number,
           'session_id', q.session_id,
           'user_id', q.user_id,
           'question', q.content,
           'web_search', q.web_search,
           'model', q.model,
           'attachments', public.worker_files_stored(q.attachments),
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
             with recursive up(id, parent_id, message_type, status, content, attachments, depth) as (
               select m.id, m.parent_id, m.message_type, m.status, m.content, m.attachments, 1
                 from public.chat_messages m
                where m.id = q.parent_id and history_limit > 0
               union all
               select p.id, p.parent_id, p.message_type, p.status, p.content, p.attachments, u.depth + 1
                 from up u
                 cross join lateral (select m.id, m.parent_id, m.message_type, m.status, m.content, m.attachments
                                       from public.chat_messages m where m.id = u.parent_id limit 1) p
                where u.depth <= 2 * history_limit
             )
             select coalesce(jsonb_agg(jsonb_build_object('id', h.id, 'type', h.message_type, 'content', h.content)
                                       || case when h.attachments <> '[]'::jsonb
                                               then jsonb_build_object('attachments', public.worker_files_stored(h.attachments))
                                               else '{}'::jsonb end
                                       order by h.depth), '[]'::jsonb)
               from (select * from up
                      where (up.message_type = 'user'
                             or (up.message_type = 'assistant' and up.status = 'completed'))
                        and up.id <> all (array(select x.reply_to from public.chat_messages x
                                                 where x.session_id = q.session_id and x.status = 'error'
                                                   and x.error_code = 'ContentFiltered'))
                      order by up.depth
                      limit greatest(history_limit, 0)) h))
    from public.chat_messages q
    join public.chat_sessions s on s.id = q.session_id
   where q.id = question_id);
end;
$$;
