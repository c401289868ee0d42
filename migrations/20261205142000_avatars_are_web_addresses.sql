-- An avatar is a web address. profiles.avatar_url and ai_roles.avatar_url took any text
-- (`javascript:alert(1)`, "not a url"), through the API as through REST (the web app writes the
-- profile straight to REST), and every client that shows an avatar was left to cope with it.
--
-- Now both hold an absolute http:// or https:// URL with a host, and no space or control character:
-- the pattern api/rules.py `avatar_url` checks (422 InvalidUrl). The web app's uploads store the
-- avatars bucket's public URL (`<SUPABASE_URL>/storage/v1/object/public/avatars/...`), which is one.
-- The checks are added `not valid`, so rows stored before do not stop the migration (a later update
-- of such a row must set a valid URL or none). A sign-up's metadata with another avatar leaves it out,
-- as one over the column's limit was (the sign-up never fails on what its caller sends).

create function public.is_web_address(value text) returns boolean
language sql immutable parallel safe
set search_path = ''
as $$
  select value ~* '^https?://([^\u0001-\u0020\u007f-\u009f/?#@]*@)?[^\u0001-\u0020\u007f-\u009f/?#@:][^\u0001-\u0020\u007f-\u009f]*$'
$$;

alter table public.profiles
  add constraint profiles_avatar_url_web check (avatar_url is null or public.is_web_address(avatar_url)) not valid;
alter table public.ai_roles
  add constraint ai_roles_avatar_url_web check (avatar_url is null or public.is_web_address(avatar_url)) not valid;

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
  if avatar is not null and (char_length(avatar) > 2000 or not public.is_web_address(avatar)) then
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
