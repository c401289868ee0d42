-- A role's name, description and system prompt are kept without the blanks around them, and their
-- limits count what is kept. The doors measured them differently: the API checked a name's length
-- before trimming it (" " + 100 characters was 422 TooLong, though 100 were stored), checked a
-- prompt untrimmed and stored a description untrimmed; REST refused a name of 100 characters
-- after a space as too long for varchar(100) (22001) and stored every text with its blanks, while
-- the system prompt's check counted it trimmed; the web app trimmed all three but its inputs cut a
-- pasted text at their length before trimming (and counted UTF-16 units), dropping its last
-- characters without a word.
--
-- Now a trigger trims the three texts, and the name and description of each translation, on every write, whoever writes (a user's custom role, an
-- admin's built-in one), with the blanks JavaScript's String.prototype.trim() takes (the web app's
-- trim; the API strips the same set, api/rules.py): spaces, tabs and line breaks, no-break and
-- ideographic spaces. A description left empty is null. The limits are then checked on the kept
-- text, in characters: a name of 1 to 100 (`name` becomes text, checked by ai_roles_name_length,
-- so the length is no longer refused before the trigger can trim), a description of at most 2000
-- and a system prompt of 1 to 8000, as before. A text refused is 23514 (400 at REST, 422 at the API).
-- Stored roles are trimmed once here.

create or replace function public.trim_blanks(value text) returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select regexp_replace(
    value,
    '^[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+|[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+$',
    '', 'g')
$$;

-- A role's translations, trimmed the same way: each language's name and description that is a
-- string (ai_roles_translations_shape refuses any other, and a name left blank, as before).
create or replace function public.trim_role_translations(value jsonb) returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  loc text;
  field text;
begin
  if jsonb_typeof(value) is distinct from 'object' then
    return value;
  end if;
  for loc in select jsonb_object_keys(value) loop
    if jsonb_typeof(value -> loc) = 'object' then
      foreach field in array array['name', 'description'] loop
        if jsonb_typeof(value -> loc -> field) = 'string' then
          value := jsonb_set(value, array[loc, field], to_jsonb(public.trim_blanks(value -> loc ->> field)));
        end if;
      end loop;
    end if;
  end loop;
  return value;
end;
$$;

create or replace function public.ai_roles_trim_texts() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.name := public.trim_blanks(new.name);
  new.system_prompt := public.trim_blanks(new.system_prompt);
  new.description := nullif(public.trim_blanks(new.description), '');
  new.translations := public.trim_role_translations(new.translations);
  return new;
end;
$$;

alter table public.ai_roles alter column name type text;

alter table public.ai_roles disable trigger ai_roles_builtin_update_audit;
update public.ai_roles
   set name = public.trim_blanks(name),
       system_prompt = public.trim_blanks(system_prompt),
       description = nullif(public.trim_blanks(description), ''),
       translations = public.trim_role_translations(translations)
 where name is distinct from public.trim_blanks(name)
    or system_prompt is distinct from public.trim_blanks(system_prompt)
    or description is distinct from nullif(public.trim_blanks(description), '')
    or translations is distinct from public.trim_role_translations(translations);
alter table public.ai_roles enable trigger ai_roles_builtin_update_audit;

alter table public.ai_roles
  add constraint ai_roles_name_length check (char_length(name) between 1 and 100);

create trigger ai_roles_trim_texts before insert or update of name, description, system_prompt, translations
  on public.ai_roles
  for each row execute function public.ai_roles_trim_texts();
