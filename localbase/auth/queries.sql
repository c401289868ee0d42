-- Named queries of the Auth service. Each starts with `-- name: <name>` and a one-line description.
-- Reads of a user return `u.*` plus `identities` (a jsonb array of auth.identities rows) for User.from_row.

-- name: user_by_id
-- The user with this id, soft-deleted or not (admin reads).
select u.*, (select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id) as identities,
       (select jsonb_agg(to_jsonb(f) - 'secret' order by f.created_at) from auth.mfa_factors f where f.user_id = u.id) as factors
  from auth.users u
 where u.id = $1;

-- name: user_by_email
-- The live email user with this (lower-cased) address.
select u.*, (select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id) as identities,
       (select jsonb_agg(to_jsonb(f) - 'secret' order by f.created_at) from auth.mfa_factors f where f.user_id = u.id) as factors
  from auth.users u
 where u.email = $1 and not u.is_sso_user and u.deleted_at is null;

-- name: user_for_token
-- GET /user in one round trip: the token's user and whether its session still exists.
select u.*, (select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id) as identities,
       (select jsonb_agg(to_jsonb(f) - 'secret' order by f.created_at) from auth.mfa_factors f where f.user_id = u.id) as factors,
       ($2::uuid is null or exists (select 1 from auth.sessions s where s.id = $2 and s.user_id = u.id)) as session_found
  from auth.users u
 where u.id = $1 and u.deleted_at is null;

-- name: insert_user
-- Create a user and its identity in one statement; the profiles trigger runs inside it.
-- $1 id, $2 email, $3 phone, $4 encrypted_password, $5 email confirmed, $6 phone confirmed,
-- $7 confirmation_token, $8 role, $9 app metadata, $10 user metadata, $11 invited, $12 banned_until
with new_user as (
  insert into auth.users (
    instance_id, id, aud, role, email, phone, encrypted_password, email_confirmed_at, phone_confirmed_at,
    confirmation_token, confirmation_sent_at, invited_at, raw_app_meta_data, raw_user_meta_data,
    banned_until, created_at, updated_at, is_anonymous
  ) values (
    '00000000-0000-0000-0000-000000000000', $1, 'authenticated', $8, $2, $3, $4,
    case when $5 then now() end, case when $6 then now() end,
    coalesce($7, ''), case when $7 is not null then now() end, case when $11 then now() end,
    $9, $10, $12, now(), now(), false
  )
  returning *
), new_identity as (
  insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
  select case when u.email is not null then u.id::text else u.phone end, u.id,
         jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', $5::boolean,
                            'phone_verified', $6::boolean) || case when u.phone is not null
                            then jsonb_build_object('phone', u.phone) else '{}' end,
         case when u.email is not null then 'email' else 'phone' end, now(), now()
    from new_user u
  returning *
)
select u.*, (select jsonb_agg(to_jsonb(i)) from new_identity i) as identities
  from new_user u;

-- name: start_session
-- Sign in: stamp last_sign_in_at (profiles copies it), open a session and its first refresh token.
-- $1 user id, $2 session id, $3 refresh token, $4 user agent, $5 ip
with signed_in as (
  update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1 returning *
), new_session as (
  insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
  select $2, id, now(), now(), 'aal1', $4, $5::inet from signed_in
  returning id, created_at
), new_token as (
  insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, session_id)
  select '00000000-0000-0000-0000-000000000000', $3, $1::text, false, now(), now(), id from new_session
  returning token
)
select u.*, (select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id) as identities,
       (select jsonb_agg(to_jsonb(f) - 'secret' order by f.created_at) from auth.mfa_factors f where f.user_id = u.id) as factors,
       s.created_at as session_started_at
  from signed_in u, new_session s, new_token t;

-- name: lock_session_of_token
-- Serialise refreshes within one session: lock the session row of the presented token.
select s.id from auth.refresh_tokens rt join auth.sessions s on s.id = rt.session_id
 where rt.token = $1
   for update of s;

-- name: refresh_token_state
-- After the lock: the presented token, its session's active token, its user and the session start.
select rt.token, rt.revoked, rt.updated_at, rt.session_id, s.created_at as session_started_at, s.not_after,
       (select a.token from auth.refresh_tokens a
         where a.session_id = rt.session_id and not a.revoked order by a.id desc limit 1) as active_token,
       (select a.parent from auth.refresh_tokens a
         where a.session_id = rt.session_id and not a.revoked order by a.id desc limit 1) as active_parent,
       u.*, (select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id) as identities,
       (select jsonb_agg(to_jsonb(f) - 'secret' order by f.created_at) from auth.mfa_factors f where f.user_id = u.id) as factors
  from auth.refresh_tokens rt
  join auth.sessions s on s.id = rt.session_id
  join auth.users u on u.id = s.user_id
 where rt.token = $1;

-- name: rotate_refresh_token
-- Revoke the presented token and issue its child in the same session. $1 parent, $2 child.
with parent as (
  update auth.refresh_tokens set revoked = true, updated_at = case when revoked then updated_at else now() end
   where token = $1
  returning user_id, session_id
), child as (
  insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
  select '00000000-0000-0000-0000-000000000000', $2, user_id, false, now(), now(), $1, session_id from parent
  returning session_id
)
update auth.sessions set refreshed_at = now() at time zone 'utc', updated_at = now()
 where id = (select session_id from child);

-- name: revoke_token_family
-- Refresh-token reuse: revoke every token of the session, so the thief's and the owner's stop working.
update auth.refresh_tokens set revoked = true, updated_at = now() where session_id = $1 and not revoked;

-- name: end_sessions
-- Logout: scope 'global' ends every session of the user, 'local' only $2, 'others' all but $2.
delete from auth.sessions
 where user_id = $1
   and case $3::text when 'local' then id = $2 when 'others' then id is distinct from $2 else true end;

-- name: update_user
-- PUT /user and admin updates: merge metadata (null values delete keys), then set what is given.
-- A new password voids every pending link and code (confirmation, recovery, email change, phone
-- change, reauthentication), as GoTrue's UpdatePassword: the owner no longer trusts what the old
-- password may have asked for.
-- $1 id, $2 user metadata patch, $3 app metadata patch, $4 password hash, $5 email, $6 phone,
-- $7 confirm email, $8 role, $9 banned_until, $10 clear ban
with updated as (
  update auth.users set
    raw_user_meta_data = case when $2::jsonb is null then raw_user_meta_data
      else (coalesce(raw_user_meta_data, '{}') || $2) - array(select key from jsonb_each($2) where value = 'null') end,
    raw_app_meta_data = case when $3::jsonb is null then raw_app_meta_data
      else (coalesce(raw_app_meta_data, '{}') || $3) - array(select key from jsonb_each($3) where value = 'null') end,
    encrypted_password = coalesce($4, encrypted_password),
    confirmation_token = case when $4::text is null then confirmation_token else '' end,
    confirmation_sent_at = case when $4::text is null then confirmation_sent_at end,
    recovery_token = case when $4::text is null then recovery_token else '' end,
    recovery_sent_at = case when $4::text is null then recovery_sent_at end,
    email_change_token_current = case when $4::text is null then email_change_token_current else '' end,
    email_change_token_new = case when $4::text is null then email_change_token_new else '' end,
    email_change_sent_at = case when $4::text is null then email_change_sent_at end,
    phone_change_token = case when $4::text is null then phone_change_token else '' end,
    phone_change_sent_at = case when $4::text is null then phone_change_sent_at end,
    reauthentication_token = case when $4::text is null then reauthentication_token else '' end,
    reauthentication_sent_at = case when $4::text is null then reauthentication_sent_at end,
    email = coalesce($5, email),
    phone = coalesce($6, phone),
    email_confirmed_at = case when $7 then coalesce(email_confirmed_at, now()) else email_confirmed_at end,
    role = coalesce($8, role),
    banned_until = case when $10 then null else coalesce($9, banned_until) end,
    updated_at = now()
  where id = $1
  returning *
), identity as (
  update auth.identities i set
    identity_data = i.identity_data || jsonb_build_object('email', u.email)
      || case when u.email_confirmed_at is not null then '{"email_verified": true}'::jsonb else '{}' end,
    updated_at = now()
  from updated u
  where i.user_id = u.id and i.provider = 'email'
  returning i.*
)
select u.*, coalesce((select jsonb_agg(to_jsonb(i)) from identity i),
                     (select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id)) as identities,
       (select jsonb_agg(to_jsonb(f) - 'secret' order by f.created_at) from auth.mfa_factors f where f.user_id = u.id) as factors
  from updated u;

-- name: set_confirmation
-- Store a new confirmation token (sign-up, invite) and its sent time. $1 id, $2 token hash.
update auth.users set confirmation_token = $2, confirmation_sent_at = now(), updated_at = now() where id = $1;

-- name: set_recovery
-- Store a new recovery/magic-link token and its sent time. $1 id, $2 token hash.
update auth.users set recovery_token = $2, recovery_sent_at = now(), updated_at = now() where id = $1;

-- name: set_email_change
-- Stage an email change until its links are followed, none of them yet. $1 id, $2 new email,
-- $3 the new address's token hash, $4 the current address's ('' for none); null keeps that one.
update auth.users set email_change = $2,
       email_change_token_new = coalesce($3, email_change_token_new),
       email_change_token_current = coalesce($4, email_change_token_current),
       email_change_confirm_status = 0, email_change_sent_at = now(), updated_at = now()
 where id = $1;

-- name: confirm_email_change_end
-- One of the two links of a secure email change followed: its token spent, the other still due.
-- $1 id, $2 the spent token hash
update auth.users set
    email_change_token_current = case when email_change_token_current = $2 then '' else email_change_token_current end,
    email_change_token_new = case when email_change_token_new = $2 then '' else email_change_token_new end,
    email_change_confirm_status = 1, updated_at = now()
 where id = $1;

-- name: user_by_token
-- The live user holding this token hash in the column that `$2` (a verification kind) uses.
select u.*, (select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id) as identities,
       (select jsonb_agg(to_jsonb(f) - 'secret' order by f.created_at) from auth.mfa_factors f where f.user_id = u.id) as factors
  from auth.users u
 where u.deleted_at is null
   and (   ($2::text = 'confirmation' and u.confirmation_token = $1)
        or ($2::text = 'recovery' and u.recovery_token = $1)
        or ($2::text = 'email_change' and $1 in (u.email_change_token_new, u.email_change_token_current)))
   and ($3::text is null or u.email = $3 or u.email_change = $3);

-- name: consume_token
-- Spend a verified token: confirm the email (or apply the staged change) and clear the token.
-- $1 id, $2 verification kind
with updated as (
  update auth.users set
    email_confirmed_at = coalesce(email_confirmed_at, now()),
    confirmation_token = case when $2::text = 'confirmation' then '' else confirmation_token end,
    recovery_token = case when $2::text = 'recovery' then '' else recovery_token end,
    email = case when $2::text = 'email_change' then email_change else email end,
    email_change = case when $2::text = 'email_change' then '' else email_change end,
    email_change_token_new = case when $2::text = 'email_change' then '' else email_change_token_new end,
    email_change_token_current = case when $2::text = 'email_change' then '' else email_change_token_current end,
    email_change_confirm_status = case when $2::text = 'email_change' then 0 else email_change_confirm_status end,
    raw_user_meta_data = coalesce(raw_user_meta_data, '{}') || jsonb_build_object('email_verified', true)
      || case when $2::text = 'email_change' then jsonb_build_object('email', email_change) else '{}' end,
    updated_at = now()
  where id = $1
  returning id, email
)
update auth.identities i
   set identity_data = i.identity_data || jsonb_build_object('email', u.email, 'email_verified', true),
       updated_at = now()
  from updated u
 where i.user_id = u.id and i.provider = 'email';

-- name: count_users
-- How many users the admin listing pages through.
select count(*) from auth.users;

-- name: list_users
-- One page of users, newest first. $1 limit, $2 offset.
select u.*, (select jsonb_agg(to_jsonb(i) order by i.created_at) from auth.identities i where i.user_id = u.id) as identities,
       (select jsonb_agg(to_jsonb(f) - 'secret' order by f.created_at) from auth.mfa_factors f where f.user_id = u.id) as factors
  from auth.users u
 order by u.created_at desc, u.id
 limit $1 offset $2;

-- name: delete_user
-- Hard delete: identities, sessions and refresh tokens cascade, and so do app tables' foreign keys.
delete from auth.users where id = $1 returning id;

-- name: soft_delete_user
-- Soft delete as GoTrue does: keep the row, forget the address and every way to sign in.
with gone as (
  update auth.users set deleted_at = now(), email = null, phone = null, encrypted_password = '',
         confirmation_token = '', recovery_token = '', email_change_token_new = '', email_change_token_current = '', email_change = '',
         raw_app_meta_data = '{}', raw_user_meta_data = '{}', updated_at = now()
   where id = $1
  returning id
), no_identities as (
  delete from auth.identities where user_id in (select id from gone)
)
delete from auth.sessions where user_id in (select id from gone);
