"""The Auth service: GoTrue's HTTP interface (v2.189) over the auth schema, mounted at /auth/v1.

Routing, body parsing and the one place where errors become responses. Handlers live in modules
named for what they serve: `signup` (sign-up, password grant), `sessions` (refresh), `account`
(/user, /logout, /reauthenticate), `anonymous` (guests), `mfa` (TOTP factors), `verify` (emailed
flows), `admin`. GoTrue features we do not offer (SSO, OAuth providers, phone, WebAuthn/passkeys)
answer a well-formed GoTrue error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from localbase.auth import account, admin, mfa, sessions, signup, verify
from localbase.auth.calls import Auth, Call, Reply, is_versioned, parse_body
from localbase.auth.errors import (
    API_VERSION,
    AuthError,
    bad_request,
    not_found,
    unexpected,
    unprocessable,
    validation_failed,
)
from localbase.gateway import Context
from localbase.http import JSON_TYPE, BodyTooLarge, Receive, Request, Scope, Send, encode_json, respond

log = logging.getLogger(__name__)

Handler = Callable[[Auth, Call], Awaitable[Reply]]
GOTRUE_VERSION = "v2.189.0"


class AuthService:
    def __init__(self, context: Context) -> None:
        self.auth = Auth(context.settings, context.db)
        self.limits = self.auth.rate_limits
        self._routes: dict[tuple[str, str], Handler] = {
            ("GET", "/health"): _health,
            ("GET", "/settings"): _settings,
            ("GET", "/.well-known/jwks.json"): _jwks,
            ("POST", "/signup"): signup.signup,
            ("POST", "/token"): _token,
            ("GET", "/user"): account.get_user,
            ("PUT", "/user"): account.update_user,
            ("POST", "/logout"): account.logout,
            ("GET", "/reauthenticate"): account.reauthenticate,
            ("GET", "/verify"): verify.follow_link,
            ("POST", "/verify"): verify.verify_code,
            ("POST", "/recover"): verify.recover,
            ("POST", "/resend"): verify.resend,
            ("POST", "/otp"): verify.otp,
            ("POST", "/magiclink"): verify.otp,
        }

    async def startup(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        versioned = is_versioned(request)
        try:
            reply = await self._dispatch(request, versioned)
        except AuthError as exc:
            reply = _error_reply(exc, versioned)
        except Exception:
            log.exception("auth request failed", extra={"path": request.path})
            reply = _error_reply(unexpected(), versioned)
        headers = list(reply.headers)
        if versioned:
            headers.append((b"x-supabase-api-version", API_VERSION.encode()))
        if reply.body is None:
            await respond(send, reply.status, b"", headers)
        else:
            await respond(send, reply.status, encode_json(reply.body), [JSON_TYPE, *headers])

    async def _dispatch(self, request: Request, versioned: bool) -> Reply:
        path = request.path.rstrip("/") or "/"
        handler = self._routes.get((request.method, path)) or _fallback(path)
        self.limits.check(request.method, path, request.query_value("grant_type"), request.client_ip)
        body = {}
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            try:
                raw = await request.body(self.auth.settings.localbase.max_body_bytes)
            except BodyTooLarge as exc:
                raise AuthError(413, "request_too_large", "Request body is too large") from exc
            body = parse_body(raw)
        if request.method == "POST" and path == "/signup":  # a guest's or an address's: the body says
            self.limits.check_signup(body, request.client_ip)
        return await handler(self.auth, Call(request, body, versioned))


async def _token(auth: Auth, call: Call) -> Reply:
    grant = call.query("grant_type")
    if grant == "password":
        return await signup.password_grant(auth, call)
    if grant == "refresh_token":
        return Reply(200, await sessions.refresh(auth, call.text("refresh_token"), call.request))
    if grant == "pkce":
        raise not_found("flow_state_not_found", "invalid flow state, no valid flow state found")
    if grant == "web3":
        raise unprocessable("web3_provider_disabled", "Web3 provider is disabled")
    if grant == "id_token":
        raise validation_failed("Custom OIDC provider is not allowed: no identity providers are enabled")
    # GoTrue's Token handler: a plain 400 invalid_credentials (not an OAuth body), whatever the grant.
    raise bad_request("invalid_credentials", "unsupported_grant_type")


async def _health(auth: Auth, call: Call) -> Reply:
    body = {
        "version": GOTRUE_VERSION,
        "name": "GoTrue",
        "description": "GoTrue is a user registration and authentication API",
    }
    return Reply(200, body)


async def _settings(auth: Auth, call: Call) -> Reply:
    providers = ("anonymous_users", "apple", "azure", "bitbucket", "discord", "facebook", "figma", "fly", "github",
                 "gitlab", "google", "keycloak", "kakao", "linkedin", "linkedin_oidc", "notion", "spotify", "slack",
                 "slack_oidc", "workos", "twitch", "twitter", "x", "zoom", "phone", "saml", "web3_solana",
                 "web3_ethereum")  # fmt: skip
    external = {name: False for name in providers}
    external["email"] = True
    external["anonymous_users"] = auth.settings.localbase.anonymous_sign_ins
    body = {
        "external": external,
        "disable_signup": auth.settings.localbase.disable_signup,
        "mailer_autoconfirm": auth.settings.localbase.autoconfirm,
        "phone_autoconfirm": False,
        "sms_provider": "",
        "saml_enabled": False,
    }
    return Reply(200, body)


async def _jwks(auth: Auth, call: Call) -> Reply:
    return Reply(200, {"keys": auth.settings.supabase.keys.public_jwks()})  # never the secret or oct keys


def _fallback(path: str) -> Handler:
    """Admin routes, then GoTrue features we do not offer, then 404."""
    if path.startswith("/admin/") or path == "/invite":
        return admin.route
    if path == "/factors" or path.startswith("/factors/"):
        return mfa.route
    if path.startswith(("/user/identities", "/user/oauth/")):
        return _signed_in_but_disabled(path)
    unsupported = _UNSUPPORTED.get(path.split("/")[1] if path.count("/") else path)

    async def refuse(auth: Auth, call: Call) -> Reply:
        raise unsupported or not_found("not_found", "Not Found")

    return refuse


def _signed_in_but_disabled(path: str) -> Handler:
    """Features GoTrue mounts behind the session check: the caller is authenticated first."""
    disabled = (
        not_found("manual_linking_disabled", "Manual linking is disabled")
        if path.startswith("/user/identities")
        else not_found("feature_disabled", "OAuth server is disabled")
    )

    async def refuse(auth: Auth, call: Call) -> Reply:
        await account.authenticate(auth, call)
        raise disabled

    return refuse


_UNSUPPORTED = {
    "passkeys": not_found("passkey_disabled", "Passkeys are disabled"),
    "oauth": not_found("feature_disabled", "OAuth server is disabled"),
    "sso": not_found("saml_provider_disabled", "SAML 2.0 is disabled"),
    "saml": not_found("saml_provider_disabled", "SAML 2.0 is disabled"),
    "authorize": validation_failed("Unsupported provider: no external OAuth providers are enabled"),
    "callback": validation_failed("Unsupported provider: no external OAuth providers are enabled"),
}


def _error_reply(exc: AuthError, versioned: bool) -> Reply:
    headers = [] if versioned else [(b"x-sb-error-code", exc.code.encode())]
    return Reply(exc.status, exc.body(versioned), headers)
