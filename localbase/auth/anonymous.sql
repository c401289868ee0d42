-- Anonymous users (guests) and reauthentication. Reads of a user return `u.*` plus `identities`.

-- name: insert_anonymous_user
-- POST /signup without email or phone: a user with no identity, empty app_metadata, the
-- sign-up `data` as user_metadata, `is_anonymous` set. $1 id, $2 user metadata
insert into auth.users (
  instance_id, id, aud, role, raw_app_meta_data, raw_user_meta_data, created_at, updated_at, is_anonymous
) values (
  '00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', '{}', $2, now(), now(), true
)
returning *, '[]'::jsonb as identities;

-- name: promote_anonymous
-- An anonymous user whose email is now confirmed becomes a permanent email user: an email
-- identity, `is_anonymous` false, the email provider in app_metadata (GoTrue's email change
-- verification). A no-op for every other user. $1 id
with promoted as (
  update auth.users set
    is_anonymous = false,
    raw_app_meta_data = coalesce(raw_app_meta_data, '{}')
      || jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email')),
    updated_at = now()
  where id = $1 and is_anonymous and email is not null and email_confirmed_at is not null
  returning id, email
)
insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at, last_sign_in_at)
select p.id::text, p.id,
       jsonb_build_object('sub', p.id::text, 'email', p.email, 'email_verified', true, 'phone_verified', false),
       'email', now(), now(), now()
  from promoted p
on conflict do nothing;

-- name: reauthentication_sent_at
-- GET /reauthenticate: when the last code went ([auth.email] max_frequency). $1 id
select reauthentication_sent_at from auth.users where id = $1;

-- name: set_reauthentication
-- GET /reauthenticate: store the code's hash and when it was sent. $1 id, $2 token hash
update auth.users set reauthentication_token = $2, reauthentication_sent_at = now(), updated_at = now()
 where id = $1;

-- name: spend_reauthentication
-- A password change used the code: it works once. Returns the row only when $2 was the live hash
-- and it is younger than $3 seconds. $1 id, $2 token hash, $3 lifetime in seconds
update auth.users set reauthentication_token = '', reauthentication_sent_at = null, updated_at = now()
 where id = $1 and reauthentication_token = $2 and reauthentication_token <> ''
   and reauthentication_sent_at + make_interval(secs => $3) > now()
returning id;

-- name: session_created_at
-- When the caller's session began (secure password change asks for a sign-in within 24 hours).
select created_at from auth.sessions where id = $1;
