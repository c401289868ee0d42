-- A question or a chat names only a role that can answer it. The worker answers a question with
-- its role (chat_messages.role_id, a slug) only when that role is active and the asker's own or
-- built-in, else with the session's role, else as the assistant (worker_claim_context). Over REST
-- (the web app's door) a question could name any slug at all: a custom role its owner had
-- switched off (is_active false), a built-in role an admin had switched off (which admins still
-- read, so the web app offered it), another user's role or none that exists. The question was
-- stored and charged, and the worker answered it silently as another persona. Binding a chat to a
-- switched-off role (chat_sessions.role_id) went through as well, with the same result for every
-- later question that named no role.
--
-- Now, for a signed-in caller (the web app, the seed API, /v1 through api_open_turn), such a
-- question, and a chat bound (created with, or changed to) a switched-off role of its own (or, for
-- an admin, a built-in one), is refused 404 RoleNotFound (details: role_id) before admission, so
-- nothing is stored or charged; binding a chat to a role the caller cannot read stays RLS's
-- refusal. The refusal
-- reads alike for a role that does not exist, is another user's or is switched off, so it tells
-- nothing of other users' roles. A chat bound to its role before that role was switched off keeps
-- it; its next question naming the role is refused until the role is switched on again or the
-- user picks another one. Trusted roles (the worker, operators) are not checked.

create or replace function public.chat_messages_check_role() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if auth.role() is distinct from 'authenticated' or new.message_type <> 'user' or new.role_id is null then
    return new;
  end if;
  if not exists (select 1 from public.ai_roles r
                  where r.slug = new.role_id and r.is_active
                    and (r.created_by is null or r.created_by = auth.uid())) then
    perform public.raise_refusal(404, 'RoleNotFound',
      format('The role %s does not exist or is switched off.', new.role_id),
      jsonb_build_object('role_id', new.role_id));
  end if;
  return new;
end;
$$;
revoke execute on function public.chat_messages_check_role() from public, anon, authenticated;

-- Named so that it fires before chat_messages_quota_admit (triggers fire in name order).
create trigger chat_messages_check_role before insert on public.chat_messages
  for each row execute function public.chat_messages_check_role();

create or replace function public.chat_sessions_check_role() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if auth.role() is distinct from 'authenticated' or new.role_id is null
     or (tg_op = 'UPDATE' and new.role_id is not distinct from old.role_id) then
    return new;
  end if;
  -- A role the caller cannot read at all is RLS's to refuse ("chat_sessions: owner creates").
  if exists (select 1 from public.ai_roles r
              where r.id = new.role_id and not r.is_active
                and (r.created_by is null or r.created_by = auth.uid())) then
    perform public.raise_refusal(404, 'RoleNotFound',
      format('The role %s does not exist or is switched off.', new.role_id),
      jsonb_build_object('role_id', new.role_id));
  end if;
  return new;
end;
$$;
revoke execute on function public.chat_sessions_check_role() from public, anon, authenticated;

create trigger chat_sessions_check_role before insert or update of role_id on public.chat_sessions
  for each row execute function public.chat_sessions_check_role();
