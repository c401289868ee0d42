-- profiles: the seed's users table, 1:1 with auth.users, created on sign-up from user metadata.

create extension if not exists pgcrypto with schema extensions;

create or replace function public.touch_updated_at() returns trigger
language plpgsql
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;

-- Username length as Chinese sites count it: a wide (CJK) character counts as two. The seed asks
-- for 3-50 characters and its own example, "张三", is two Han characters: width 4.
create or replace function public.username_width(name text) returns integer
language sql immutable parallel safe
set search_path = ''
as $$
  select char_length(name)
       + char_length(regexp_replace(name, '[^\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]', '', 'g'))
$$;

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username varchar(50) not null
    check (username = btrim(username) and public.username_width(username) between 3 and 50),
  email varchar(255),
  avatar_url text check (avatar_url is null or char_length(avatar_url) <= 2000),
  is_active boolean not null default true,
  last_login_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index profiles_username_key on public.profiles (lower(username));
create index profiles_email_idx on public.profiles (email);
create index profiles_created_at_idx on public.profiles (created_at desc);

create trigger profiles_touch_updated_at before update on public.profiles
  for each row execute function public.touch_updated_at();

-- Sign-up (GoTrue inserts into auth.users) creates the profile. The username comes from the
-- sign-up metadata; users created without one (admin API, anonymous) get one derived from the
-- email or id. A taken username fails the sign-up, as a unique constraint should.
create or replace function public.handle_new_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  wanted text := nullif(btrim(new.raw_user_meta_data ->> 'username'), '');
  fallback text;
begin
  if wanted is null then
    fallback := coalesce(nullif(split_part(new.email, '@', 1), ''), 'user');
    wanted := left(fallback, 40) || '_' || left(replace(new.id::text, '-', ''), 8);
  end if;
  insert into public.profiles (id, username, email, avatar_url)
  values (new.id, wanted, new.email, nullif(new.raw_user_meta_data ->> 'avatar_url', ''));
  return new;
end;
$$;

create trigger on_auth_user_created after insert on auth.users
  for each row execute function public.handle_new_user();

-- Keep the profile's email and last login in step with auth.users.
create or replace function public.sync_profile_from_auth() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.profiles
     set email = new.email,
         last_login_at = coalesce(new.last_sign_in_at, last_login_at)
   where id = new.id
     and (email is distinct from new.email or last_login_at is distinct from new.last_sign_in_at);
  return new;
end;
$$;

create trigger on_auth_user_updated after update of email, last_sign_in_at on auth.users
  for each row execute function public.sync_profile_from_auth();

-- Whether a username is free, so sign-up forms can say so before submitting.
create or replace function public.username_available(name text) returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select not exists (select 1 from public.profiles where lower(username) = lower(btrim(name)))
$$;

alter table public.profiles enable row level security;

-- A user reads and edits only their own profile; rows are created by the trigger above and
-- removed with the auth user (service_role), never by the user through the API.
create policy "profiles: owner reads" on public.profiles
  for select to authenticated using ((select auth.uid()) = id);
create policy "profiles: owner updates" on public.profiles
  for update to authenticated using ((select auth.uid()) = id) with check ((select auth.uid()) = id);
create policy "profiles: service role inserts" on public.profiles
  for insert to service_role with check (true);
create policy "profiles: service role deletes" on public.profiles
  for delete to service_role using (true);

revoke insert, update, delete on public.profiles from anon, authenticated;
revoke all on public.profiles from anon;
grant update (username, avatar_url) on public.profiles to authenticated;
