"""Fixtures for the Storage tests: supabase-py clients signed in as fresh users, the service-role
client, and throwaway buckets. User tests use the product's `avatars` and `attachments` buckets,
so their real policies are what refuses another user and anon."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from supabase import Client, create_client

from tests.conftest import LocalStack, SignedUpUser, sign_up

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8cfc0f01f0005000201a5f1d0b40000000049454e44ae426082"
)


def url_of(signed: Mapping[str, object]) -> str:
    """The URL a signing call answered (storage3 types it optional, for a path that failed to sign)."""
    url = signed["signedURL"]
    assert isinstance(url, str), signed
    return url


def signed_in(stack: LocalStack, user: SignedUpUser) -> Client:
    client = create_client(stack.url, stack.anon_key)
    client.auth.sign_in_with_password({"email": user.email, "password": user.password})
    return client


@pytest.fixture
def service(stack: LocalStack) -> Client:
    return create_client(stack.url, stack.service_role_key)


@pytest.fixture
def anon(stack: LocalStack) -> Client:
    return create_client(stack.url, stack.anon_key)


@pytest.fixture
def alice(stack: LocalStack) -> tuple[SignedUpUser, Client]:
    user = sign_up(stack)
    return user, signed_in(stack, user)


@pytest.fixture
def bob(stack: LocalStack) -> tuple[SignedUpUser, Client]:
    user = sign_up(stack)
    return user, signed_in(stack, user)


@pytest.fixture
def bucket(service: Client) -> Iterator[str]:
    """A private bucket of the service role's, emptied and deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    service.storage.create_bucket(name)
    yield name
    service.storage.empty_bucket(name)
    service.storage.delete_bucket(name)


def storage_root(stack: LocalStack) -> Path:
    return Path(stack.env["STORAGE_ROOT"])


def blob_files(stack: LocalStack) -> set[str]:
    return {p.name for p in (storage_root(stack) / "blobs").glob("*/*")}
