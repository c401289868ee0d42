-- A sign-up never fails on the username (or avatar) its caller sent.
--
-- GoTrue answers any error of a trigger on auth.users with a 500 ("Database error saving new user",
-- "... creating anonymous user"), and so does the local Auth. handle_new_user raised whenever the
-- metadata's username broke a profiles check (width 3-50, trimmed) or was taken, so anyone could
-- make the Auth door answer 500 (`make fuzz`, 12-03: five guest sign-ups with such names). On
-- hosted Supabase the only way to avoid that is a trigger that does not fail on what a caller sends.
--
-- So an unusable or taken username gives way to the generated one that users without a username
-- get (from the email or "user", and the id), and an avatar URL over the column's limit is left
-- out. Forms check first (public.username_available, and the API's register answers 409/422 before
-- it signs up), so only a race between two sign-ups of one name ends with the generated name. The
-- generated name keeps at most 20 characters of the email: 40 wide (CJK) characters were width 80.

create or replace function public.handle_new_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  wanted text := nullif(btrim(new.raw_user_meta_data ->> 'username'), '');
  generated text := left(coalesce(nullif(btrim(split_part(new.email, '@', 1)), ''), 'user'), 20)
                    || '_' || left(replace(new.id::text, '-', ''), 8);
  avatar text := nullif(new.raw_user_meta_data ->> 'avatar_url', '');
begin
  if avatar is not null and char_length(avatar) > 2000 then
    avatar := null;
  end if;
  if wanted is not null and char_length(wanted) <= 50 and public.username_width(wanted) between 3 and 50 then
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
