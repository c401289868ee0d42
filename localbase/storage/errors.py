"""storage-api's error shape: HTTP 400 for nearly everything, the real status as a string in the body.

Every body carries `statusCode`, `error`, `message` and `code`, because storage3 reads `error` and
`statusCode` and storage-js reads `message` and `statusCode` (specs/storage.md §1.4, §5).
"""

from __future__ import annotations

from localbase.http import Headers, Send, respond_json


class StorageError(Exception):
    def __init__(
        self,
        status_code: str,
        error: str,
        message: str,
        code: str,
        *,
        http_status: int = 400,
        headers: Headers | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.message = message
        self.code = code
        self.http_status = http_status
        self.headers = headers or []

    def body(self) -> dict[str, str]:
        return {"statusCode": self.status_code, "error": self.error, "message": self.message, "code": self.code}

    async def send(self, send: Send, *, head: bool = False) -> None:
        if head:
            await send({"type": "http.response.start", "status": self.http_status, "headers": self.headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await respond_json(send, self.http_status, self.body(), self.headers)


def no_such_bucket() -> StorageError:
    return StorageError("404", "Bucket not found", "Bucket not found", "NoSuchBucket")


def no_such_key() -> StorageError:
    return StorageError("404", "not_found", "Object not found", "NoSuchKey")


def key_exists() -> StorageError:
    return StorageError("409", "Duplicate", "The resource already exists", "KeyAlreadyExists")


def bucket_exists() -> StorageError:
    return StorageError("409", "Duplicate", "The resource already exists", "BucketAlreadyExists")


def resource_exists() -> StorageError:
    return StorageError("409", "Duplicate", "The resource already exists", "ResourceAlreadyExists")


def bucket_not_empty() -> StorageError:
    return StorageError("409", "ResourceNotEmpty", "The bucket you tried to delete is not empty", "ResourceNotEmpty")


def too_large() -> StorageError:
    return StorageError("413", "Payload too large", "The object exceeded the maximum allowed size", "EntityTooLarge")


def mime_not_allowed(mimetype: str) -> StorageError:
    return StorageError("415", "invalid_mime_type", f"mime type {mimetype} is not supported", "InvalidMimeType")


def access_denied(message: str) -> StorageError:
    return StorageError("403", "Unauthorized", message, "AccessDenied")


def rls_denied() -> StorageError:
    return access_denied("new row violates row-level security policy")


def invalid_jwt(message: str) -> StorageError:
    return StorageError("400", "InvalidJWT", message, "InvalidJWT")


def invalid_signature(message: str = "Invalid signature") -> StorageError:
    return StorageError("400", "InvalidSignature", message, "InvalidSignature")


def invalid_key(key: str) -> StorageError:
    return StorageError("400", "InvalidKey", f"Invalid key: {key}", "InvalidKey")


def invalid_bucket_name() -> StorageError:
    return StorageError("400", "Invalid Input", "Bucket name invalid", "InvalidBucketName")


def invalid_request(message: str, *, http_status: int = 400) -> StorageError:
    return StorageError("400", "Bad Request", message, "InvalidRequest", http_status=http_status)


def not_found_route(method: str, path: str) -> StorageError:
    return StorageError("404", "Not Found", f"Route {method}:{path} not found", "InvalidRequest", http_status=404)


def range_not_satisfiable(size: int) -> StorageError:
    return StorageError(
        "416",
        "invalid_range",
        "invalid range provided",
        "InvalidRange",
        http_status=416,
        headers=[(b"content-range", f"bytes */{size}".encode())],
    )
