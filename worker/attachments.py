"""What a question's attachments become for the model: images as references it can read, documents
as their text.

Attachments are the question's `chat_messages.attachments` ({bucket, path, name, mime_type, size,
width, height}), objects in the private `attachments` bucket that the database already checked
belong to the question's owner (migrations/..._storage_buckets.sql) and, for images, meet the size
and pixel limits (..._attachments_in_answers.sql). The worker reads them as service_role.

Images go to the model either inline (a `data:` URI: works with any deployment, the bytes travel
in the request) or as a short-lived signed Storage URL the provider downloads (LLM_IMAGE_TRANSPORT;
`auto` picks by where Storage and the model are); worker/images.py makes those references and keeps
them, so an image is read once per worker, and sends inline, re-encoded, an image DashScope would
refuse as stored (a GIF, a side under 10 px or past 200:1, too many bytes; its type, size and
dimensions here say which).
Documents (PDF, DOCX, TXT, Markdown, CSV) become their text, extracted off the event loop and kept by
worker/documents.py, so a document is read and parsed once per worker; a document whose text cannot
be read refuses the turn (`DocumentUnreadable`) rather than answering without it.

Earlier questions' files come back with them in later prompts (a follow-up about the same
document): the files of every earlier question that was answered, documents by their kept text and
images by their kept reference, so the earlier question is sent byte for byte as it was first
(context caching). An earlier file that cannot be read any more is left out and logged: an old file never blocks a new
question. Images of earlier questions are read only for a model that takes images.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

from worker.documents import DOCUMENT_TYPES, DocumentTexts
from worker.errors import AttachmentError
from worker.histories import HistoryItem
from worker.images import ImageRefs, fits_as_link
from worker.prompt import image_cost
from worker.supabase_http import SupabaseError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Attachment:
    path: str
    name: str
    mime_type: str
    size: int
    etag: str | None = None  # the object's ETag when the claim was made (None: not said, or gone)
    gone: bool = False  # the claim found no such object any more
    width: int = 0  # an image's, as its question says (0: not said)
    height: int = 0

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")

    @property
    def is_document(self) -> bool:
        return self.mime_type in DOCUMENT_TYPES

    @property
    def linkable(self) -> bool:
        """Whether the model takes this image as a link to its original (worker/images.py)."""
        return fits_as_link(self.mime_type, self.size, self.width, self.height)


def parse(raw: Any) -> list[Attachment]:
    """The attachments of a claim (already validated by the database), with what Storage held for
    each when the claim was made (`etag`: its ETag, or null when the object is gone); anything
    malformed is skipped."""
    out: list[Attachment] = []
    for item in raw if isinstance(raw, list | tuple) else ():
        if isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("mime_type"), str):
            etag = item.get("etag")
            out.append(
                Attachment(
                    item["path"],
                    str(item.get("name") or item["path"]),
                    item["mime_type"],
                    int(item.get("size") or 0),
                    etag=etag if isinstance(etag, str) else None,
                    gone="etag" in item and etag is None,
                    width=_whole(item.get("width")),
                    height=_whole(item.get("height")),
                )
            )
    return out


def _whole(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else 0


def read_ahead(refs: ImageRefs, raw: Any) -> int:
    """Start reading the images of a question just heard (its row's `attachments`), while it is
    claimed: its turn then finds them kept (worker/images.py). How many reads started."""
    return sum(
        refs.read_ahead(image.path, image.mime_type, linkable=image.linkable) for image in parse(raw) if image.is_image
    )


async def image_refs(refs: ImageRefs, images: Sequence[Attachment]) -> list[str]:
    """A reference per image the model can read: a data URI, or a signed URL."""
    return list(await asyncio.gather(*(_ref(refs, image) for image in images)))


def _ref(refs: ImageRefs, image: Attachment) -> Awaitable[str]:
    return refs.ref(image.path, image.mime_type, etag=image.etag, gone=image.gone, linkable=image.linkable)


async def document_texts(documents: DocumentTexts, files: Sequence[Attachment]) -> list[tuple[str, str]]:
    """(name, text) per document, in order."""
    texts = await asyncio.gather(
        *(documents.text(doc.path, doc.mime_type, doc.name, etag=doc.etag, gone=doc.gone) for doc in files)
    )
    return [(doc.name, text) for doc, text in zip(files, texts, strict=True)]


@dataclass(frozen=True, slots=True)
class Earlier:
    """What an earlier question's files add to it: its documents' text and its images' references."""

    texts: list[tuple[str, str]] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    image_tokens: dict[str, int] = field(default_factory=dict)  # per reference, as the model counts it


def answered_files(history: Sequence[HistoryItem]) -> list[tuple[str, list[Attachment]]]:
    """(question id, files) of the earlier questions that have files and an answer in the history
    (newest first, as the claim gives it): a question refused for its file (too long, unreadable) has
    no answer there, and its file stays out."""
    out = []
    for index, item in enumerate(history):
        if item.type == "user" and item.attachments and index > 0 and history[index - 1].type == "assistant":
            files = [a for a in parse(item.attachments) if a.is_document or a.is_image]
            if files:
                out.append((item.id, files))
    return out


async def earlier_files(
    documents: DocumentTexts,
    questions: Sequence[tuple[str, Sequence[Attachment]]],
    *,
    images: ImageRefs | None,
) -> dict[str, Earlier]:
    """Per earlier question id, its files read as when it was asked (all at once); `images` None
    leaves its images out (a model without vision)."""

    async def text(doc: Attachment) -> tuple[str, str] | None:
        try:
            return (await document_texts(documents, [doc]))[0]
        except (SupabaseError, AttachmentError) as exc:
            log.warning("an earlier document is left out", extra={"path": doc.path, "error": str(exc)})
            return None

    async def ref(image: Attachment, refs: ImageRefs) -> tuple[str, int] | None:
        try:
            return await _ref(refs, image), image_cost(image.width, image.height)
        except SupabaseError as exc:
            log.warning("an earlier image is left out", extra={"path": image.path, "error": str(exc)})
            return None

    async def one(files: Sequence[Attachment]) -> Earlier:
        texts, refs = await asyncio.gather(
            asyncio.gather(*(text(a) for a in files if a.is_document)),
            asyncio.gather(*(ref(a, images) for a in files if a.is_image and images is not None)),
        )
        kept = [r for r in refs if r is not None]
        return Earlier([t for t in texts if t is not None], [r for r, _ in kept], dict(kept))

    read = await asyncio.gather(*(one(files) for _, files in questions))
    return {qid: earlier for (qid, _), earlier in zip(questions, read, strict=True) if earlier.texts or earlier.images}


def with_documents(question: str, texts: Sequence[tuple[str, str]]) -> str:
    """The question after the documents' text, each fenced with its name. Neither can leave its
    fence: the name is quoted as an XML attribute (`"`, `<`, `>`, `&` escaped, a control character
    a space), and a closing tag the text writes itself (`</document>`, any case or spacing) is
    broken (`<\\/document>`), so a file cannot end its fence and speak as the question or as
    another file."""
    parts = [f'<document name="{_attribute(name)}">\n{_fenced(text)}\n</document>' for name, text in texts]
    return "\n\n".join([*parts, question])


_CLOSING = re.compile(r"<(\s*/\s*document)", re.IGNORECASE)
_ESCAPES = str.maketrans({"&": "&amp;", '"': "&quot;", "<": "&lt;", ">": "&gt;"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _attribute(name: str) -> str:
    return _CONTROL.sub(" ", name).translate(_ESCAPES)


def _fenced(text: str) -> str:
    return _CLOSING.sub(r"<\\\1", text) if "<" in text else text  # most texts have no "<" at all
