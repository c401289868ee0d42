-- MFA factors, challenges and the session's authentication methods (AMR), as GoTrue keeps them.

-- name: user_factors
-- A user's factors, oldest first (the `factors` of the User object).
select * from auth.mfa_factors where user_id = $1 order by created_at;

-- name: delete_stale_factors
-- GoTrue's DeleteExpiredFactors: unverified factors older than $2 seconds go before an enrolment.
delete from auth.mfa_factors
 where user_id = $1 and status = 'unverified' and created_at < now() - make_interval(secs => $2);

-- name: insert_factor
-- $1 id, $2 user, $3 friendly name, $4 type, $5 secret
insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
values ($1, $2, $3, $4::auth.factor_type, 'unverified', now(), now(), $5)
returning *;

-- name: owned_factor
-- The factor $2 if it belongs to user $1.
select * from auth.mfa_factors where id = $2 and user_id = $1;

-- name: insert_challenge
-- $1 id, $2 factor, $3 ip; stamps the factor's last challenge.
with challenge as (
  insert into auth.mfa_challenges (id, factor_id, created_at, ip_address) values ($1, $2, now(), $3::inet)
  returning id, created_at
), stamped as (
  update auth.mfa_factors set last_challenged_at = now(), updated_at = now() where id = $2
)
select * from challenge;

-- name: challenge_for_update
-- The factor's challenge $2, locked so one verification spends it. $1 factor
select id, created_at, verified_at, host(ip_address) as ip from auth.mfa_challenges
 where factor_id = $1 and id = $2
   for update;

-- name: delete_challenge
delete from auth.mfa_challenges where id = $1;

-- name: verify_challenge
-- A correct code: spend the challenge, mark the factor verified, drop the user's other unverified
-- factors of its type, and raise the session to aal2 with a `totp` AMR claim.
-- $1 challenge, $2 factor, $3 user, $4 session
with spent as (
  update auth.mfa_challenges set verified_at = now() where id = $1
), factor as (
  update auth.mfa_factors set status = 'verified', updated_at = now() where id = $2 returning factor_type
), others as (
  delete from auth.mfa_factors f using factor
   where f.user_id = $3 and f.id <> $2 and f.status = 'unverified' and f.factor_type = factor.factor_type
), claim as (
  insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
  values (gen_random_uuid(), $4, now(), now(), 'totp')
  on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey do update set updated_at = now()
)
update auth.sessions set aal = 'aal2', factor_id = $2, updated_at = now() where id = $4;

-- name: drop_aal1_sessions
-- GoTrue's InvalidateSessionsWithAALLessThan: once a factor is verified, the user's other aal1
-- sessions end (they would otherwise skip the second factor).
delete from auth.sessions where user_id = $1 and id <> $2 and coalesce(aal, 'aal1') = 'aal1';

-- name: delete_factor
-- Unenrol: the factor goes and the sessions it raised fall back to aal1. $1 factor
with gone as (
  delete from auth.mfa_factors where id = $1 returning id
)
update auth.sessions set aal = 'aal1', factor_id = null, updated_at = now()
 where factor_id in (select id from gone);

-- name: add_amr_claim
-- Record how a session authenticated (password, otp, anonymous, totp...). $1 session, $2 method
insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
values (gen_random_uuid(), $1, now(), now(), $2)
on conflict on constraint mfa_amr_claims_session_id_authentication_method_pkey do update set updated_at = now();

-- name: session_assurance
-- The session's AAL and its AMR claims, most recent first, for minting a token.
select s.aal,
       coalesce((select jsonb_agg(jsonb_build_object('method', c.authentication_method,
                                                    'timestamp', extract(epoch from c.updated_at)::bigint)
                                  order by c.updated_at desc)
                   from auth.mfa_amr_claims c where c.session_id = s.id), '[]') as amr
  from auth.sessions s where s.id = $1;

-- name: session_aal
select aal from auth.sessions where id = $1;

-- name: user_exists
select 1 from auth.users where id = $1;

-- name: active_refresh_token
-- The session's current refresh token (the newest unrevoked one).
select token from auth.refresh_tokens where session_id = $1 and not revoked order by id desc limit 1;
