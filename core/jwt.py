"""JSON Web Tokens as Supabase issues and checks them: the legacy HS256 secret and asymmetric keys.

A `KeySet` is the project's signing configuration, as GoTrue reads `GOTRUE_JWT_KEYS` and the
Supabase CLI reads `signing_keys_path`: the shared HS256 secret plus any JWKs (RS256, ES256, or
`oct` HS256 keys with a `kid`). Tokens are signed with the private key whose `key_ops` include
`sign` (a private key without `key_ops` signs too; two signing keys are refused), with its `kid`
in the header; without one, with the secret and no `kid`, exactly as before. Verification
follows GoTrue's `parseJWTClaims`: a known `kid` selects its key (and thereby the only algorithm
accepted), an unknown or absent `kid` falls back to the secret for HS256, and anything else is
refused. So the legacy demo anon/service keys (HS256, no `kid`) keep working next to asymmetric
user tokens. Only public keys are ever published (`public_jwks`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jwt as _pyjwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ALGORITHM = "HS256"
ASYMMETRIC = ("RS256", "ES256")
CLOCK_SKEW_SECONDS = 30


class JwtError(Exception):
    """A token that cannot be trusted; `code` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class JwtExpired(JwtError):
    def __init__(self, message: str = "JWT expired") -> None:
        super().__init__("JwtExpired", message)


class KeyConfigError(ValueError):
    """The configured JWKs cannot be used (bad JSON, unsupported key, two signing keys)."""


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    alg: str
    verify_key: Any  # cryptography public key, or bytes for oct keys
    sign_key: Any | None  # cryptography private key, bytes for oct keys, None for public-only
    signs: bool
    public_jwk: dict[str, Any] | None  # what the JWKS endpoint publishes (None for oct keys)


@dataclass(frozen=True, eq=False)
class KeySet:
    """The HS256 secret and the configured JWKs; hashable by identity (verifiers cache per token)."""

    secret: str
    keys: Mapping[str, _Key] = field(default_factory=dict)

    @classmethod
    def from_config(cls, secret: str, jwks_json: str = "") -> KeySet:
        """Parse a JSON array of JWKs (or `{"keys": [...]}`), the format of GOTRUE_JWT_KEYS and
        of `supabase gen signing-key`. Public-only keys verify; private keys can also sign."""
        if not jwks_json.strip():
            return cls(secret)
        try:
            data = json.loads(jwks_json)
        except json.JSONDecodeError as exc:
            raise KeyConfigError(f"JWT keys are not valid JSON: {exc}") from exc
        items = data.get("keys") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise KeyConfigError("JWT keys must be a JSON array of JWKs")
        keys = [_parse_jwk(item) for item in items]
        if len({k.kid for k in keys}) != len(keys):
            raise KeyConfigError("JWT keys must have distinct kid values")
        if sum(k.signs for k in keys) > 1:
            raise KeyConfigError("multiple signing keys detected, only 1 signing key is supported")
        return cls(secret, {k.kid: k for k in keys})

    @property
    def signing_key(self) -> _Key | None:
        return next((k for k in self.keys.values() if k.signs), None)

    @property
    def algorithms(self) -> tuple[str, ...]:
        """Every algorithm a token may use here: HS256 (the secret) and each key's."""
        return tuple(dict.fromkeys((ALGORITHM, *(k.alg for k in self.keys.values()))))

    def sign(self, claims: dict[str, Any]) -> str:
        """A token signed with the signing key (its `kid` in the header), else HS256 with the secret."""
        key = self.signing_key
        if key is None or key.sign_key is None:
            return _pyjwt.encode(claims, self.secret, algorithm=ALGORITHM)
        return _pyjwt.encode(claims, key.sign_key, algorithm=key.alg, headers={"kid": key.kid})

    def public_jwks(self) -> list[dict[str, Any]]:
        """The public keys, as GoTrue's /.well-known/jwks.json lists them (never `oct` keys)."""
        return [dict(k.public_jwk) for k in self.keys.values() if k.public_jwk is not None]

    def verify(self, token: str, *, require_exp: bool = False) -> dict[str, Any]:
        """Verify signature and expiry (with Supabase's 30 s skew); audience is not checked."""
        if token.count(".") != 2:
            raise JwtError("MalformedJWT", f"Expected 3 parts in JWT; got {token.count('.') + 1}")
        try:
            header = _pyjwt.get_unverified_header(token)
        except _pyjwt.PyJWTError as exc:
            raise JwtError("MalformedJWT", f"The token provided is not a valid JWT: {exc}") from exc
        verify_key, algorithm = self._key_for(header)
        options: _pyjwt.types.Options = {"verify_aud": False, "require": ["exp"] if require_exp else []}
        try:
            claims: dict[str, Any] = _pyjwt.decode(
                token, verify_key, algorithms=[algorithm], options=options, leeway=CLOCK_SKEW_SECONDS
            )
        except _pyjwt.ExpiredSignatureError as exc:
            raise JwtExpired() from exc
        except _pyjwt.InvalidAlgorithmError as exc:
            raise JwtError("JwtSignatureError", "JWT algorithm is not allowed") from exc
        except _pyjwt.InvalidSignatureError as exc:
            raise JwtError("JwtSignatureError", "JWT cryptographic operation failed") from exc
        except _pyjwt.MissingRequiredClaimError as exc:
            raise JwtError("JwtClaimsInvalid", str(exc)) from exc
        except _pyjwt.PyJWTError as exc:
            raise JwtError("MalformedJWT", f"The token provided is not a valid JWT: {exc}") from exc
        if not isinstance(claims, dict):
            raise JwtError("MalformedJWT", "JWT payload is not an object")
        return claims

    def _key_for(self, header: Mapping[str, Any]) -> tuple[Any, str]:
        kid, alg = header.get("kid"), header.get("alg")
        if isinstance(kid, str) and kid in self.keys:
            key = self.keys[kid]
            return key.verify_key, key.alg
        if alg == ALGORITHM:
            return self.secret, ALGORITHM
        raise JwtError("JwtSignatureError", f"unrecognized JWT kid {kid} for algorithm {alg}")


def encode(claims: dict[str, Any], secret: str) -> str:
    """An HS256 token signed with the shared secret (the demo keys, tests, service tokens)."""
    return _pyjwt.encode(claims, secret, algorithm=ALGORITHM)


def decode(token: str, keys: KeySet | str, *, require_exp: bool = False) -> dict[str, Any]:
    """Verify `token` against a KeySet, or (a plain string) against the HS256 secret alone."""
    keyset = keys if isinstance(keys, KeySet) else KeySet(keys)
    return keyset.verify(token, require_exp=require_exp)


def generate_jwk(alg: str = "ES256", kid: str | None = None) -> dict[str, Any]:
    """A new private signing JWK, the shape `supabase gen signing-key` writes (for tests and set-up)."""
    import uuid  # noqa: PLC0415 - only key generation needs it

    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private, as_dict=True)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = ECAlgorithm.to_jwk(private, as_dict=True)
    else:
        raise KeyConfigError(f"unsupported signing algorithm {alg!r}: use RS256 or ES256")
    return {
        **jwk,
        "kid": kid or str(uuid.uuid4()),
        "alg": alg,
        "use": "sig",
        "key_ops": ["sign", "verify"],
        "ext": True,
    }


_PUBLIC_FIELDS = {"RSA": ("kty", "n", "e"), "EC": ("kty", "crv", "x", "y")}


def _parse_jwk(item: object) -> _Key:
    if not isinstance(item, dict):
        raise KeyConfigError("each JWT key must be a JSON object")
    kid, kty = item.get("kid"), item.get("kty")
    if not isinstance(kid, str) or not kid:
        raise KeyConfigError("each JWT key needs a kid")
    ops = item.get("key_ops")
    # A private key signs when its key_ops say so, or when it has no key_ops at all.
    signs = "sign" in ops if isinstance(ops, Sequence) else "d" in item or kty == "oct"
    if kty == "oct":
        if item.get("alg", ALGORITHM) != ALGORITHM:
            raise KeyConfigError(f"key {kid}: oct keys must be HS256")
        secret = _pyjwt.PyJWK(item, algorithm=ALGORITHM).key
        return _Key(kid, ALGORITHM, secret, secret, signs, None)
    alg = item.get("alg") or ("RS256" if kty == "RSA" else "ES256" if kty == "EC" else None)
    if alg not in ASYMMETRIC or kty not in _PUBLIC_FIELDS:
        raise KeyConfigError(f"key {kid}: unsupported key type {kty!r}/{alg!r}: use RS256, ES256 or oct")
    try:
        key = _pyjwt.PyJWK(item, algorithm=alg).key
    except _pyjwt.PyJWTError as exc:
        raise KeyConfigError(f"key {kid}: {exc}") from exc
    is_private = "d" in item
    public = key.public_key() if is_private else key
    published = {name: item[name] for name in _PUBLIC_FIELDS[kty]}
    public_jwk = {**published, "kid": kid, "alg": alg, "use": "sig", "key_ops": ["verify"]}
    if "ext" in item:
        public_jwk["ext"] = item["ext"]
    return _Key(kid, alg, public, key if is_private else None, signs and is_private, public_jwk)
