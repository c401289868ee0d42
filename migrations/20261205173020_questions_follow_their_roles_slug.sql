-- A role's questions follow it when its slug is renamed. chat_messages.role_id keeps the slug a
-- question was asked with (it is the seed API's role_id), and the slug of a custom role can be
-- changed (REST, PATCH /api/roles/{id} with a new id), as an admin can change a built-in role's.
-- The questions and answers asked with it kept the old slug, which then named no role: history
-- and a reopened socket showed `role_name: null` for them, the web app showed the chat's persona
-- instead of theirs, and a regenerated answer was written as the session's role or the assistant.
--
-- Now renaming a role's slug renames it in the messages that named it: a custom role's in its
-- owner's messages only (another user may have a role of that slug of their own), a built-in
-- role's in every user's (no custom role has a built-in's slug, ai_roles_guard_slug). The update
-- is made in the rename's transaction, as the table's owner (the user cannot write role_id of a
-- stored message themselves), and touches no other column, so nothing is re-charged or re-sent.

create index if not exists chat_messages_role_id_idx on public.chat_messages (role_id)
  where role_id is not null;

create or replace function public.ai_roles_slug_renamed() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.chat_messages m
     set role_id = new.slug
   where m.role_id = old.slug
     and (old.created_by is null or m.user_id = old.created_by);
  return null;
end;
$$;
revoke execute on function public.ai_roles_slug_renamed() from public, anon, authenticated;

create trigger ai_roles_slug_renamed after update of slug on public.ai_roles
  for each row when (new.slug is distinct from old.slug)
  execute function public.ai_roles_slug_renamed();
