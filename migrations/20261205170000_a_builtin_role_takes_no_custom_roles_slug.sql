-- A role's slug names one role for each user: it is the API's role_id, chat_messages.role_id keeps
-- it, and the worker picks a question's system prompt by it (a built-in role, or the asker's own).
-- ai_roles_guard_slug (20261124000200_ai_roles.sql) kept a custom role off a built-in's slug, but
-- not the other way: an admin (REST, as the admin: "ai_roles: admins create built-in" and "admins
-- update built-in") could add a built-in role with the slug a user's custom role has, or rename
-- one to it. That user then listed two roles of one id, GET /api/roles/{slug} and the chats' role
-- picked either, and the worker could answer their chats with their own persona with the admin's
-- prompt (its claim orders the two alike and takes one).
--
-- Now a built-in role's slug may not be one any custom role has either (23505, a 409 SlugTaken at
-- the API's doors as for a user). The function runs as its owner, so it sees every user's roles;
-- the refusal names no user and no role. Writers of one slug take turns (a transaction lock on
-- it), so a custom and a built-in role made at once cannot both pass the check, which neither
-- unique index covers.

create or replace function public.ai_roles_guard_slug() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(hashtextextended('public.ai_roles.slug:' || new.slug, 0));
  if new.created_by is not null
     and exists (select 1 from public.ai_roles r where r.created_by is null and r.slug = new.slug) then
    raise exception 'slug "%" is reserved by a built-in role', new.slug
      using errcode = '23505', hint = 'Choose another slug for your custom role.';
  end if;
  if new.created_by is null
     and exists (select 1 from public.ai_roles r where r.created_by is not null and r.slug = new.slug) then
    raise exception 'slug "%" is taken by a custom role', new.slug
      using errcode = '23505', hint = 'Choose another slug for the built-in role.';
  end if;
  return new;
end;
$$;
