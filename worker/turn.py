"""One turn: answer a claimed question from the provider's stream, live, into its assistant row.

The text goes to subscribers as it arrives (broadcast.py) and into the row at a bounded rate
(writer.py). Provider failures that are retryable are retried with backoff only while nothing has
been delivered; after that, or for permanent failures, the row ends as `error` with the partial
text. A stop request ends the provider stream at once: cancelled by the user -> `cancelled` with
the text so far; lease lost -> nothing more is written; shutdown -> the row is released for
another worker; turn timeout -> `error` TurnTimeout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import msgspec

from core.settings import LlmSettings
from worker import attachments, plan_check
from worker.broadcast import Broadcaster
from worker.claim_prompt import claim_prompt
from worker.conclusion import Conclusion, Outcome, ids
from worker.documents import DocumentTexts
from worker.early import EarlyCall, EarlyCalls
from worker.errors import AttachmentError
from worker.images import ImageRefs, transport_for
from worker.llm import (
    ChatMessage,
    Finished,
    GenerationParams,
    Provider,
    ProviderError,
    Read,
    ReasoningDelta,
    Sources,
    TextDelta,
)
from worker.metrics import Metrics
from worker.models import Catalog
from worker.prompt import IMAGE_TOKENS, Prompt, choose_model, image_cost
from worker.reply import CANCELLED, LEASE_LOST, SHUTDOWN, TIMEOUT, Reply
from worker.retry import Backoff
from worker.store import Claim
from worker.supabase_http import SupabaseError, SupabaseHttp
from worker.titles import Titler
from worker.writer import RowWriter

log = logging.getLogger(__name__)


class Turns:
    """Runs turns; `active` holds the replies in flight so the worker can stop them."""

    def __init__(
        self,
        provider: Provider,
        writer: RowWriter,
        broadcaster: Broadcaster,
        backoff: Backoff,
        metrics: Metrics,
        *,
        llm: LlmSettings,
        turn_timeout: float,
        catalog: Catalog | None = None,
        storage: SupabaseHttp | None = None,
        titler: Titler | None = None,
        early: EarlyCalls | None = None,
    ) -> None:
        self._provider = provider
        self._writer = writer
        self._broadcaster = broadcaster
        self._backoff = backoff
        self._metrics = metrics
        self._llm = llm
        self._catalog = catalog or Catalog()
        self._images: ImageRefs | None = None
        self._documents: DocumentTexts | None = None
        if storage is not None:
            transport, fallback = transport_for(llm.image_transport, storage.url, llm.base_url)
            self._images = ImageRefs(
                storage,
                transport=transport,
                fallback=fallback,
                seconds=llm.image_url_seconds,
                max_bytes=llm.image_cache_mb << 20,
                max_pixels=llm.image_max_pixels,
                read_ahead=llm.image_read_ahead,
            )
            self._documents = DocumentTexts(
                storage,
                max_bytes=llm.document_cache_mb << 20,
                max_text=llm.document_max_mb << 20,
                max_pages=llm.document_max_pages,
                seconds=llm.document_read_seconds,
                readers=llm.document_readers,
            )
        self._turn_timeout = turn_timeout
        self._early = early
        self._conclusion = Conclusion(writer, broadcaster, metrics, titler=titler, early=early)
        self.active: dict[str, Reply] = {}

    def close(self) -> None:
        if self._documents is not None:
            self._documents.close()

    def heard(self, record: Mapping[str, Any]) -> bool:
        """A new question's Realtime event, as soon as it is heard: its images are read ahead, or
        its model call started (early.py: True)."""
        if self._images is not None and record.get("attachments"):
            self._metrics.images_read_ahead.inc(attachments.read_ahead(self._images, record["attachments"]))
        return self._early is not None and self._early.heard(record)

    async def run(self, claim: Claim) -> None:
        reply = Reply(claim)
        if claim.attempts > 1:
            self._metrics.retakes.inc()
        self.active[claim.id] = reply
        self._metrics.in_flight.inc()
        self._writer.track(reply)
        self._broadcaster.open(claim.id, claim.reply_to, claim.attempts, claim.session_id)
        timer = asyncio.get_running_loop().call_later(self._turn_timeout, reply.stop, TIMEOUT)
        try:
            outcome = await self._answer(reply)
            await self._conclusion.write(reply, outcome)
        finally:
            timer.cancel()
            self._writer.untrack(reply)
            self.active.pop(claim.id, None)
            self._metrics.in_flight.dec()

    async def _answer(self, reply: Reply) -> Outcome | None:
        """The row's final state, or None when the row must not be finalised here."""
        if (beyond := plan_check.refusal(reply.claim)) is not None:
            # the chat's or role's settings changed after admission to what the plan does not include
            self._take_early(reply.claim, None)
            log.warning("refused by the plan at the claim", extra={**ids(reply.claim), "error_code": beyond})
            return Outcome("error", error_code=beyond)
        while True:
            linked = False  # the prompt carries Storage links the model downloads
            if reply.claim.attachments or any(item.attachments for item in reply.claim.history):
                self._take_early(reply.claim, None)
                linked = self._images is not None and self._images.signed
                # read as a task the reply can stop: a stop (or the turn's timeout) while the files are
                # read ends the turn at once, not once a document's reading ends (up to
                # LLM_DOCUMENT_READ_SECONDS; a reader thread stops at its next check: documents.py)
                reading = asyncio.create_task(self._with_attachments(reply.claim))
                reply.bind(reading)
                try:
                    await asyncio.wait([reading])
                except asyncio.CancelledError:
                    reply.stop(SHUTDOWN)
                    await asyncio.wait([reading])
                if reading.cancelled():  # the model was never called: nothing is charged
                    return self._stopped(reply, None)
                try:
                    prompt = reading.result()
                except AttachmentError as refused:
                    log.warning("attachment refused", extra={**ids(reply.claim), "error": str(refused)})
                    return Outcome("error", error_code=refused.code)
            else:
                prompt = claim_prompt(reply.claim, self._llm, self._catalog)
            early = self._take_early(reply.claim, prompt)
            reply.called = early is not None  # an early call was sent before the claim: the model has the prompt
            # written with the text, and charged if the answer ends before the model's usage comes: the
            # prompt's count, then the model's own once it says it (Read)
            reply.model, reply.input_tokens = prompt.params.model, prompt.input_tokens
            reply.image_tokens = prompt.image_tokens or None
            reply.counted = (reply.input_tokens, reply.image_tokens)
            self._broadcaster.name_model(reply.claim.id, reply.claim.attempts, prompt.params.model)
            consumer = asyncio.create_task(self._consume(reply, prompt.messages, prompt.params, early))
            reply.bind(consumer)
            try:
                await asyncio.wait([consumer])
            except asyncio.CancelledError:
                reply.stop(SHUTDOWN)
                await asyncio.wait([consumer])
            if consumer.cancelled():
                if early is not None:  # a reader stopped before its first step never opened (or closed) it
                    await early.close()
                return self._stopped(reply, prompt)
            error = consumer.exception()
            if not isinstance(error, ProviderError):
                break
            # LLM_IMAGE_TRANSPORT=auto chose links the model cannot download (it refuses before
            # answering): ask again inline, once (the next prompt carries no links)
            unreachable = linked and error.code == "ImageUnreachable" and not reply.delivered
            if not (unreachable and self._images is not None and self._images.fall_back()):
                # refused or failed before a first token: nothing answered, nothing charged (DashScope
                # bills no refused call); after one, the prompt was read and is charged with the text
                spent, searched = (reply.input_tokens, reply.search_calls) if reply.delivered else (None, None)
                return Outcome(
                    "error",
                    model=prompt.params.model,
                    input_tokens=spent,
                    error_code=error.code,
                    search_calls=searched,
                    image_tokens=reply.image_tokens if reply.delivered else None,
                )
        if error is not None:
            log.error("turn failed", exc_info=error, extra=ids(reply.claim))
            # after a first token the model had read the prompt: charged with the text, as a provider
            # failure then is; before one, nothing was answered
            spent, searched = (reply.input_tokens, reply.search_calls) if reply.delivered else (None, None)
            return Outcome(
                "error",
                model=prompt.params.model,
                input_tokens=spent,
                error_code="WorkerError",
                search_calls=searched,
                image_tokens=reply.image_tokens if reply.delivered else None,
            )
        finished = consumer.result()
        return Outcome(
            "completed",
            finish_reason=finished.finish_reason,
            model=finished.model or prompt.params.model,
            input_tokens=finished.input_tokens,
            output_tokens=finished.output_tokens,
            reasoning_tokens=finished.reasoning_tokens,
            cached_tokens=finished.cached_tokens,
            search_calls=finished.search_calls,
            image_tokens=_images_of(finished, reply),
        )

    def _take_early(self, claim: Claim, prompt: Prompt | None) -> EarlyCall | None:
        return self._early.take(claim, prompt) if self._early is not None else None

    async def _with_attachments(self, claim: Claim) -> Prompt:
        """The prompt of a question with attachments, or after earlier ones: documents' text before
        their question (the new question's refused when it does not fit whole), images on their
        question for a vision model."""
        items = attachments.parse(claim.attachments)
        images = [a for a in items if a.is_image]
        documents = [a for a in items if a.is_document]
        if self._images is None or self._documents is None:
            if items:
                raise AttachmentError("AttachmentUnavailable", "no Storage to read attachments from")
            return claim_prompt(claim, self._llm, self._catalog)
        allowed = plan_check.models_of(claim)
        model, info = choose_model(
            claim.personality, self._llm, self._catalog.models, claim.session_model, bool(images), allowed=allowed
        )
        if images and allowed is not None and model not in allowed:
            # images need a model that sees, and none the plan includes does (it changed since admission)
            raise AttachmentError("VisionModelNotAllowed", "the plan includes no model that reads images")
        llm = self._llm
        try:  # every file is read at once: one round trip's wait, not one after another
            texts, refs, earlier = await asyncio.gather(
                attachments.document_texts(self._documents, documents),
                attachments.image_refs(self._images, images),
                attachments.earlier_files(
                    self._documents,
                    attachments.answered_files(claim.history),
                    images=self._images if info is not None and info.vision else None,
                ),
            )
        except SupabaseError as exc:
            raise AttachmentError("AttachmentUnavailable", str(exc)) from exc
        question = attachments.with_documents(claim.question, texts)
        # measured with the tokenizer: documents' text takes seconds, off the loop (and its other answers)
        prompt = await asyncio.to_thread(
            claim_prompt, claim, llm, self._catalog, question=question, images=len(images), earlier=earlier
        )
        at = -2 if prompt.messages[-1].partial else -1  # the question, before any words it continues
        last = prompt.messages[at]
        if texts and last.content != question:
            raise AttachmentError("DocumentTooLong", "the documents do not fit the model's context window")
        prompt.messages[at] = ChatMessage("user", last.content, images=tuple(refs))
        return _images_counted(prompt, refs, images, earlier)

    def _stopped(self, reply: Reply, prompt: Prompt | None) -> Outcome | None:
        """How a stopped turn ends; `prompt` None: stopped while it was built (its files read)."""
        if reply.stop_reason in (LEASE_LOST, SHUTDOWN):
            return None
        code = "TurnTimeout" if reply.stop_reason == TIMEOUT else None
        status = "cancelled" if reply.stop_reason == CANCELLED else "error"
        if prompt is None:
            return Outcome(status, error_code=code)
        return Outcome(
            status,
            model=prompt.params.model,
            input_tokens=reply.input_tokens if reply.called else None,  # never sent: nothing read
            error_code=code,
            search_calls=reply.search_calls,
            image_tokens=reply.image_tokens if reply.called else None,
        )

    async def _consume(
        self, reply: Reply, messages: list[ChatMessage], params: GenerationParams, early: EarlyCall | None
    ) -> Finished:
        """The provider's answer: the early call's when one was taken, then (retries) new calls."""
        failures = 0
        while True:
            events = early.stream() if early is not None else self._provider.stream(messages, params)
            early = None
            reply.sources = reply.search_calls = None  # a call's search is its own: a failed one's is not the answer's
            reply.called = True  # from here on the request may be with the model (an early call's already is)
            try:
                async for event in events:
                    if isinstance(event, TextDelta | ReasoningDelta):
                        if event.text and not reply.delivered:
                            self._deliver(reply, event)
                            # Let the first chunk's POST go out before the deltas that came with it
                            # are read: one turn of the loop starts the POST's task, which leaves its
                            # body to a writer task of aiohttp's own (not started eagerly before
                            # Python 3.12); a second one lets that writer put it on the socket. With
                            # one, the rest of a burst (a thinking model's reasoning above all) was
                            # parsed first: ~1.6 ms more at one conversation on 12-02's machine.
                            await asyncio.sleep(0)
                            await asyncio.sleep(0)
                        elif event.text:
                            self._deliver(reply, event)
                    elif isinstance(event, Read):  # the model's count of the prompt: charged if it stops now
                        reply.input_tokens = event.input_tokens
                        if event.image_tokens is not None:  # not said: the prompt's count stands
                            reply.image_tokens = event.image_tokens
                    elif isinstance(event, Sources):
                        kept = [msgspec.to_builtins(source) for source in event.items if source.on_the_web]
                        reply.sources = kept or None
                        reply.search_calls = 1  # counted by the finish's usage; charged if the answer stops first
                    else:
                        return event
                raise ProviderError("IncompleteStream", "the stream ended without a finish reason", retryable=True)
            except ProviderError as error:
                self._metrics.provider_errors.labels(error.code).inc()
                failures += 1
                if not reply.delivered:  # refused or failed before a first token: billed nothing, its search
                    reply.called = False  # not the answer's either (a stop before the retry charges neither),
                    reply.sources = reply.search_calls = None  # nor its count of the prompt: the prompt's again
                    reply.input_tokens, reply.image_tokens = reply.counted
                if reply.delivered or not error.retryable or not self._backoff.allows(failures):
                    raise
                delay = self._backoff.delay(failures, error.retry_after)
                log.warning(
                    "provider call failed; retrying",
                    extra={**ids(reply.claim), "error_code": error.code, "retry_in": round(delay, 3)},
                )
                await asyncio.sleep(delay)
            finally:
                if isinstance(events, AsyncGenerator):
                    await events.aclose()

    def _deliver(self, reply: Reply, event: TextDelta | ReasoningDelta) -> None:
        now = time.monotonic()
        if not reply.delivered:
            reply.delivered = True
            self._metrics.ttft.observe(now - reply.started)
        if isinstance(event, ReasoningDelta):
            if reply.reasoning_started is None:
                reply.reasoning_started = now
            reply.think(event.text)
            self._broadcaster.chunk(reply.claim.id, reply.claim.attempts, event.text, kind="reasoning")
            return
        if reply.reasoning_started is not None and reply.reasoning_ended is None:
            reply.reasoning_ended = now
        reply.append(event.text)
        self._broadcaster.chunk(reply.claim.id, reply.claim.attempts, event.text)


def _images_counted(
    prompt: Prompt, refs: list[str], images: list[attachments.Attachment], earlier: dict[str, attachments.Earlier]
) -> Prompt:
    """The prompt with its images counted as the model counts them, by their dimensions (charged if
    the answer ends before the model says its own count): the prompt was measured with each at its
    most (IMAGE_TOKENS), room it keeps, and until 12-05 a 280x140 picture stopped before the model's
    first event was charged 1,282 image tokens where the model counts 52."""
    costs = {ref: image_cost(image.width, image.height) for ref, image in zip(refs, images, strict=True)}
    for files in earlier.values():
        costs.update(files.image_tokens)
    counted = sum(costs.get(ref, IMAGE_TOKENS) for message in prompt.messages for ref in message.images)
    text = prompt.input_tokens - prompt.image_tokens
    return dataclasses.replace(prompt, input_tokens=text + counted, image_tokens=counted)


def _images_of(finished: Finished, reply: Reply) -> int | None:
    """The image tokens of a completed answer's input: as the model said them, else (an OpenAI-compatible
    endpoint says none: DashScope's compatible mode, vLLM) the prompt's count of its images, within the
    input the model counted. Until 12-05 such an answer was charged its images at the input weight,
    where one stopped before its end was charged them at the image weight."""
    if finished.image_tokens is not None or reply.image_tokens is None:
        return finished.image_tokens
    return min(reply.image_tokens, finished.input_tokens)
