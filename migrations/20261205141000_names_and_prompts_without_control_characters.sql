-- Names say what they show. A username could hold a line break, a tab, a carriage return or an
-- invisible formatting character (a zero-width space or joiner, a direction override, a soft
-- hyphen): the API refused only some ASCII controls, and REST (the web app's profile page writes
-- profiles straight to it) refused none, so two users could read as the same name, or a name could
-- reorder the text around it. A role's name or system prompt could hold any control character.
--
-- Now, in the database as in the API (api/rules.py `username`, `role_text`):
--   * profiles.username holds no character of Unicode's general categories Cc (controls) and Cf
--     (format characters), listed below as of Unicode 15;
--   * ai_roles.name and ai_roles.system_prompt hold no control character but a line break (\n) or
--     a tab (\t): a prompt may have line breaks.
-- The checks are added `not valid`: rows stored before keep what they hold until they change (a
-- later update of such a row must clean it), and the migration does not fail on them.
-- A sign-up still never fails on its username (20261203194500_sign_up_never_fails_on_its_username.sql):
-- one with such characters gives way to the generated name, whose e-mail part loses them too.

-- `value` without its Cc and Cf characters (NUL cannot be in a text).
create function public.without_unprintable(value text) returns text
language sql immutable parallel safe
set search_path = ''
as $$
  select regexp_replace(value,
    '[\u0001-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]',
    '', 'g')
$$;

alter table public.profiles
  add constraint profiles_username_printable check (public.without_unprintable(username) = username) not valid;

alter table public.ai_roles
  add constraint ai_roles_name_printable check (name !~ '[\u0001-\u0008\u000b-\u001f\u007f-\u009f]') not valid,
  add constraint ai_roles_system_prompt_printable
    check (system_prompt !~ '[\u0001-\u0008\u000b-\u001f\u007f-\u009f]') not valid;

create or replace function public.handle_new_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  wanted text := nullif(btrim(new.raw_user_meta_data ->> 'username'), '');
  generated text := left(coalesce(nullif(btrim(public.without_unprintable(split_part(new.email, '@', 1))), ''), 'user'), 20)
                    || '_' || left(replace(new.id::text, '-', ''), 8);
  avatar text := nullif(new.raw_user_meta_data ->> 'avatar_url', '');
begin
  if avatar is not null and char_length(avatar) > 2000 then
    avatar := null;
  end if;
  if wanted is not null and char_length(wanted) <= 50 and public.username_width(wanted) between 3 and 50
     and public.without_unprintable(wanted) = wanted then
    insert into public.profiles (id, username, email, avatar_url)
    values (new.id, wanted, new.email, avatar)
    on conflict ((lower(username))) do nothing;
    if found then
      return new;
    end if;
  end if;
  insert into public.profiles (id, username, email, avatar_url)
  values (new.id, generated, new.email, avatar);
  return new;
end;
$$;
