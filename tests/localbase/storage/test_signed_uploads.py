"""Signed upload URLs (createSignedUploadUrl, then uploadToSignedUrl: `PUT /object/upload/sign/...`)
write as Storage's admin, as storage-api's do: the token, checked against the policies when it was
made, is the authorization. A token lives for hours and may be used again; the product's rules on
storage.objects that must hold for every door are triggers, so a link signed earlier cannot replace
a file a message has listed since, or write for an account deleted since."""

from __future__ import annotations

import httpx
import pytest
from storage3.exceptions import StorageApiError
from storage3.types import CreateSignedUploadUrlOptions, UploadSignedUrlFileOptions
from supabase import Client

from tests.conftest import LocalStack, SignedUpUser
from tests.localbase.storage.conftest import PNG
from tests.localbase.storage.test_clients_sync import PDF, RLS_REFUSAL, _as_stored, _attach

UPSERT = CreateSignedUploadUrlOptions(upsert="true")
AS_PDF: UploadSignedUrlFileOptions = {"content-type": "application/pdf"}


def _refused(call: object) -> StorageApiError:
    with pytest.raises(StorageApiError) as info:
        call()  # type: ignore[operator]
    return info.value


def test_a_link_signed_before_a_message_listed_the_file_cannot_replace_it(
    alice: tuple[SignedUpUser, Client],
) -> None:
    user, client = alice
    files = client.storage.from_("attachments")
    path = f"{user.id}/q/pic.png"
    signed = files.create_signed_upload_url(path, UPSERT)
    files.upload_to_signed_url(path, signed["token"], PNG, {"content-type": "image/png"})
    _attach(client, user, path)
    again = _refused(lambda: files.upload_to_signed_url(path, signed["token"], PDF, AS_PDF))
    assert (again.status, again.message) == ("403", RLS_REFUSAL["message"])
    assert _as_stored(client, path) == (len(PNG), "image/png", PNG)
    # Deleted by its owner (their right), the listed path takes no new file through the link either.
    files.remove([path])
    gone = _refused(lambda: files.upload_to_signed_url(path, signed["token"], PDF, AS_PDF))
    assert (gone.status, gone.message) == ("403", RLS_REFUSAL["message"])
    assert files.exists(path) is False
    # A path no message lists is still the link's to write.
    free = f"{user.id}/q/free.png"
    link = files.create_signed_upload_url(free, UPSERT)
    files.upload_to_signed_url(free, link["token"], PNG, {"content-type": "image/png"})
    files.upload_to_signed_url(free, link["token"], PDF, AS_PDF)
    assert _as_stored(client, free) == (len(PDF), "application/pdf", PDF)


def test_a_link_signed_before_the_account_was_deleted_writes_nothing(
    stack: LocalStack, alice: tuple[SignedUpUser, Client], service: Client
) -> None:
    user, client = alice
    links = {
        bucket: client.storage.from_(bucket).create_signed_upload_url(f"{user.id}/late.png")
        for bucket in ("avatars", "attachments")
    }
    service.auth.admin.delete_user(user.id)
    for bucket, link in links.items():
        late = _refused(
            lambda bucket=bucket, link=link: client.storage.from_(bucket).upload_to_signed_url(
                f"{user.id}/late.png", link["token"], PNG, {"content-type": "image/png"}
            )
        )
        assert (late.status, late.message) == ("403", RLS_REFUSAL["message"]), bucket
    public = httpx.get(f"{stack.url}/storage/v1/object/public/avatars/{user.id}/late.png")
    assert public.json()["statusCode"] == "404"
    assert [o["name"] for o in service.storage.from_("attachments").list(user.id)] == []
