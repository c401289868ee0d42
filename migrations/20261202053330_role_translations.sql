-- ai_roles.translations: a persona's name and description in each language of the web app, so
-- an English reader sees "Smart Assistant", not 智能助手, and an admin's edit of a built-in role
-- is what every reader sees (a translation kept in the web app by slug would hide it).
--
-- Shape: {"en": {"name": ..., "description": ...}, "zh": {...}}. Only the web app's locales are
-- keys; each holds a name, a description or both, as strings within the limits of the stored
-- `name` (1-100 characters, not blank) and `description` (at most 2000). A missing text falls
-- back to the stored one (`name`, `description`), which is in whatever language it was written.
--
-- Who writes it is who writes the row's other texts: the existing per-verb policies decide the
-- rows (a user their own custom roles, an admin the built-in ones, nobody another user's), and
-- the column joins the insert/update column grants of `authenticated`. Reads go through the same
-- select policies as the rest of the row; facade.roles returns it to the API.

alter table public.ai_roles
  add column translations jsonb not null default '{}'::jsonb;

alter table public.ai_roles
  add constraint ai_roles_translations_shape check (
    jsonb_typeof(translations) = 'object'
    and translations - array['en', 'zh'] = '{}'::jsonb
    and (translations -> 'en' is null or (
      jsonb_typeof(translations -> 'en') = 'object'
      and translations -> 'en' <> '{}'::jsonb
      and (translations -> 'en') - array['name', 'description'] = '{}'::jsonb
      and (translations #> '{en,name}' is null or (
        jsonb_typeof(translations #> '{en,name}') = 'string'
        and char_length(btrim(translations #>> '{en,name}')) > 0
        and char_length(translations #>> '{en,name}') <= 100))
      and (translations #> '{en,description}' is null or (
        jsonb_typeof(translations #> '{en,description}') = 'string'
        and char_length(translations #>> '{en,description}') <= 2000))))
    and (translations -> 'zh' is null or (
      jsonb_typeof(translations -> 'zh') = 'object'
      and translations -> 'zh' <> '{}'::jsonb
      and (translations -> 'zh') - array['name', 'description'] = '{}'::jsonb
      and (translations #> '{zh,name}' is null or (
        jsonb_typeof(translations #> '{zh,name}') = 'string'
        and char_length(btrim(translations #>> '{zh,name}')) > 0
        and char_length(translations #>> '{zh,name}') <= 100))
      and (translations #> '{zh,description}' is null or (
        jsonb_typeof(translations #> '{zh,description}') = 'string'
        and char_length(translations #>> '{zh,description}') <= 2000))))
  );

grant insert (translations), update (translations) on public.ai_roles to authenticated;

-- The seed's personas in English, where an admin has not written one already. Schema data like
-- the seed rows themselves, so not an admin's action for audit.events.
alter table public.ai_roles disable trigger ai_roles_builtin_update_audit;
update public.ai_roles r
   set translations = jsonb_build_object('en', jsonb_build_object('name', seed.name, 'description', seed.description))
                      || r.translations
  from (values
    ('assistant', 'Smart Assistant', 'A professional AI assistant that can answer all kinds of questions'),
    ('creative_writer', 'Creative Writer', 'A creative writing assistant'),
    ('tech_expert', 'Tech Expert', 'A professional technical adviser'),
    ('casual_chat', 'Casual Chat', 'A relaxed, cheerful companion to chat with')
  ) as seed (slug, name, description)
 where r.slug = seed.slug and r.created_by is null;
alter table public.ai_roles enable trigger ai_roles_builtin_update_audit;

-- facade.roles (20261202051029_facade_reads_in_one_statement.sql) with the translations.
create or replace function facade.roles(claims text, by_id uuid, by_slug text) returns text
language plpgsql volatile security invoker
as $$
declare
  found text;
begin
  perform facade.become(claims);
  if by_id is not null then
    select coalesce(json_agg(r), '[]')::text into found
      from (select ro.slug as id, ro.name, ro.description, ro.avatar_url, ro.system_prompt, ro.id::text as uuid,
                   ro.created_by is not null as is_custom, ro.translations, ro.sort_order, ro.created_at
              from public.ai_roles ro where ro.id = by_id) r;
  elsif by_slug is not null then
    select coalesce(json_agg(r), '[]')::text into found
      from (select ro.slug as id, ro.name, ro.description, ro.avatar_url, ro.system_prompt, ro.id::text as uuid,
                   ro.created_by is not null as is_custom, ro.translations, ro.sort_order, ro.created_at
              from public.ai_roles ro where ro.slug = by_slug) r;
  else
    select coalesce(json_agg(r order by r.sort_order, r.created_at, r.uuid), '[]')::text into found
      from (select ro.slug as id, ro.name, ro.description, ro.avatar_url, ro.system_prompt, ro.id::text as uuid,
                   ro.created_by is not null as is_custom, ro.translations, ro.sort_order, ro.created_at
              from public.ai_roles ro where ro.is_active) r;
  end if;
  return found;
end
$$;

-- A replace keeps the function's ACL; said again so this file alone states who may call it.
revoke all on function facade.roles(text, uuid, text) from public, anon, authenticated, service_role;
grant execute on function facade.roles(text, uuid, text) to authenticator;
