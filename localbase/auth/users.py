"""The GoTrue User object: one row of auth.users (with its identities) and its JSON form.

Queries select `u.*` plus an `identities` array of auth.identities records, so every read and
every `returning` clause feeds `User.from_row`. The JSON omits null timestamps the way GoTrue's
`omitempty` does; gotrue-py and auth-js depend on `id`, `aud`, `created_at` and both metadata objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4


def timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds, as Go's time.Time marshals it."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class User:
    id: UUID
    aud: str
    role: str
    email: str | None
    phone: str | None
    encrypted_password: str | None
    email_confirmed_at: datetime | None
    phone_confirmed_at: datetime | None
    confirmed_at: datetime | None
    confirmation_sent_at: datetime | None
    recovery_sent_at: datetime | None
    email_change_sent_at: datetime | None
    email_change: str | None
    invited_at: datetime | None
    last_sign_in_at: datetime | None
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime | None
    banned_until: datetime | None
    deleted_at: datetime | None
    is_anonymous: bool
    is_sso_user: bool
    identities: Sequence[Mapping[str, Any]]
    factors: Sequence[Mapping[str, Any]] = ()
    email_change_confirm_status: int = 0  # links of a secure email change followed so far (0 or 1)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> User:
        return cls(
            id=row["id"],
            aud=row["aud"] or "",
            role=row["role"] or "",
            email=row["email"],
            phone=row["phone"],
            encrypted_password=row["encrypted_password"],
            email_confirmed_at=row["email_confirmed_at"],
            phone_confirmed_at=row["phone_confirmed_at"],
            confirmed_at=row["confirmed_at"],
            confirmation_sent_at=row["confirmation_sent_at"],
            recovery_sent_at=row["recovery_sent_at"],
            email_change_sent_at=row["email_change_sent_at"],
            email_change=row["email_change"] or None,
            invited_at=row["invited_at"],
            last_sign_in_at=row["last_sign_in_at"],
            app_metadata=row["raw_app_meta_data"] or {},
            user_metadata=row["raw_user_meta_data"] or {},
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            banned_until=row["banned_until"],
            deleted_at=row["deleted_at"],
            is_anonymous=row["is_anonymous"],
            is_sso_user=row["is_sso_user"],
            identities=row["identities"] or (),
            factors=row.get("factors") or (),
            email_change_confirm_status=row.get("email_change_confirm_status") or 0,
        )

    @property
    def is_banned(self) -> bool:
        return self.banned_until is not None and self.banned_until > datetime.now(UTC)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "aud": self.aud,
            "role": self.role,
            "email": self.email or "",
            "phone": self.phone or "",
        }
        optional = {
            "email_confirmed_at": self.email_confirmed_at,
            "phone_confirmed_at": self.phone_confirmed_at,
            "confirmation_sent_at": self.confirmation_sent_at,
            "confirmed_at": self.confirmed_at,
            "recovery_sent_at": self.recovery_sent_at,
            "email_change_sent_at": self.email_change_sent_at,
            "invited_at": self.invited_at,
            "last_sign_in_at": self.last_sign_in_at,
            "banned_until": self.banned_until,
            "deleted_at": self.deleted_at,
        }
        body.update({key: timestamp(value) for key, value in optional.items() if value is not None})
        if self.email_change:
            body["new_email"] = self.email_change
        body.update(
            {
                "app_metadata": self.app_metadata,
                "user_metadata": self.user_metadata,
                "identities": [identity_json(identity) for identity in self.identities],
                "created_at": timestamp(self.created_at),
                "updated_at": timestamp(self.updated_at or self.created_at),
                "is_anonymous": self.is_anonymous,
            }
        )
        if self.factors:  # GoTrue's `factors,omitempty`
            body["factors"] = [factor_json(factor) for factor in self.factors]
        return body


def identity_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """One auth.identities row as `to_jsonb` gave it (timestamps are ISO strings) in GoTrue's shape."""
    created = _reformat(row["created_at"])
    body: dict[str, Any] = {
        "identity_id": row["id"],
        "id": row["provider_id"],
        "user_id": row["user_id"],
        "identity_data": row["identity_data"] or {},
        "provider": row["provider"],
        "created_at": created,
        "updated_at": _reformat(row["updated_at"]) if row["updated_at"] else created,
        "email": row["email"] or "",
    }
    if row["last_sign_in_at"]:
        body["last_sign_in_at"] = _reformat(row["last_sign_in_at"])
    return body


def factor_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """One auth.mfa_factors row (a record or `to_jsonb` of it) as GoTrue's Factor, never its secret."""
    body: dict[str, Any] = {
        "id": str(row["id"]),
        "created_at": _stamp(row["created_at"]),
        "updated_at": _stamp(row["updated_at"]),
        "status": row["status"],
    }
    if row["friendly_name"]:
        body["friendly_name"] = row["friendly_name"]
    body["factor_type"] = row["factor_type"]
    body["phone"] = row["phone"] or ""
    body["last_challenged_at"] = _stamp(row["last_challenged_at"]) if row["last_challenged_at"] else None
    return body


def _stamp(value: str | datetime) -> str:
    return timestamp(value) if isinstance(value, datetime) else _reformat(value)


def _reformat(value: str) -> str:
    return timestamp(datetime.fromisoformat(value))


def fake_user(email: str, metadata: dict[str, Any], now: datetime) -> dict[str, Any]:
    """What sign-up answers for an already confirmed email when confirmations are on: a plausible,
    unsaved user, so the response does not reveal that the address is registered."""
    stamp = timestamp(now)
    return {
        "id": str(uuid4()),
        "aud": "authenticated",
        "role": "authenticated",
        "email": email,
        "phone": "",
        "confirmation_sent_at": stamp,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": metadata,
        "identities": [],
        "created_at": stamp,
        "updated_at": stamp,
        "is_anonymous": False,
    }
