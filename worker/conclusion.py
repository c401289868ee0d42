"""How a turn ends: its outcome written into the assistant row (or the lease let go), `done` sent to
the subscribers, the metrics, the chat's title and the log line (turn.py decides the outcome)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from worker import errors
from worker.broadcast import Broadcaster
from worker.early import EarlyCalls
from worker.metrics import Metrics
from worker.reply import SHUTDOWN, Reply
from worker.store import Claim
from worker.titles import Titler
from worker.writer import RowWriter

log = logging.getLogger("worker.turn")  # a turn's log lines, wherever it ends


@dataclass(frozen=True)
class Outcome:
    status: str  # completed | error | cancelled
    finish_reason: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error_code: str | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    search_calls: int | None = None
    image_tokens: int | None = None


class Conclusion:
    """Ends turns: what `Turns.run` does with a turn's outcome."""

    def __init__(
        self,
        writer: RowWriter,
        broadcaster: Broadcaster,
        metrics: Metrics,
        *,
        titler: Titler | None,
        early: EarlyCalls | None,
    ) -> None:
        self._writer = writer
        self._broadcaster = broadcaster
        self._metrics = metrics
        self._titler = titler
        self._early = early

    async def write(self, reply: Reply, outcome: Outcome | None) -> None:
        """The row's final state written (or the lease let go), `done` to subscribers, metrics,
        the title, the log line."""
        claim = reply.claim
        if outcome is None:
            self._broadcaster.discard(claim.id, claim.attempts)
            if reply.stop_reason == SHUTDOWN:
                await self._writer.release(reply)
                log.info("answer released at shutdown", extra=ids(claim))
            else:
                self._metrics.leases_lost.inc()
                log.warning("lease lost; another worker answers", extra=ids(claim))
            return
        response_time = round((time.monotonic() - reply.started) * 1000)
        content = reply.content
        reasoning = "".join(reply.reasoning) or None
        output_tokens, reasoning_tokens = outcome.output_tokens, outcome.reasoning_tokens
        if output_tokens is None:  # ended before the model's usage came: what was streamed, thinking included
            reasoning_tokens = count_tokens(reasoning) if reasoning else None
            if content or reasoning_tokens:
                output_tokens = (count_tokens(content) if content else 0) + (reasoning_tokens or 0)
        message = errors.user_message(outcome.error_code) if outcome.error_code else None
        early = self._early if outcome.status == "completed" else None
        if early is not None:  # before the row is final, so that whoever sees it final can ask on
            early.answered(claim, content)
        written = await self._writer.finish(
            reply,
            status=outcome.status,
            content=content,
            model=outcome.model,
            input_tokens=outcome.input_tokens,
            output_tokens=output_tokens,
            response_time=response_time,
            finish_reason=outcome.finish_reason,
            error_code=outcome.error_code,
            error_message=message,
            reasoning=reasoning,
            reasoning_ms=reply.reasoning_ms,
            reasoning_tokens=reasoning_tokens,
            cached_tokens=outcome.cached_tokens,
            search_calls=outcome.search_calls,
            image_tokens=outcome.image_tokens,
            sources=reply.sources,
        )
        if written is None:
            if early is not None:
                early.unsaved(claim)
            self._broadcaster.discard(claim.id, claim.attempts)
            self._metrics.leases_lost.inc()
            log.warning("lease lost before the answer was saved", extra=ids(claim))
            return
        # as the row ended: a retake that ended with nothing of its own ends with the attempt before's
        # text and counts (answer_retakes), which its subscribers had been reading
        length = written.length if written.length is not None else len(content)
        tokens_used = written.tokens_used
        if tokens_used is None:
            tokens_used = (outcome.input_tokens or 0) + (output_tokens or 0)
        self._broadcaster.done(
            claim.id,
            claim.attempts,
            {
                "status": outcome.status,
                "length": length,
                "finish_reason": outcome.finish_reason,
                "error_code": outcome.error_code,
                "error_message": message,
                "tokens_used": tokens_used,
                "reasoning_ms": reply.reasoning_ms,
                "sources": reply.sources,
            },
        )
        self._metrics.turns.labels(outcome.status).inc()
        if self._titler is not None and outcome.status == "completed":
            self._titler.after_answer(claim, content)
        log.info(
            "AI response generated",
            extra={
                **ids(claim),
                "status": outcome.status,
                "model": outcome.model,
                "response_time": response_time,
                "tokens_used": tokens_used,
                "finish_reason": outcome.finish_reason,
                "error_code": outcome.error_code,
                "attempts": claim.attempts,
            },
        )


def ids(claim: Claim) -> dict[str, Any]:
    return {
        "user_id": claim.user_id,
        "session_id": claim.session_id,
        "message_id": claim.id,
        "reply_to": claim.reply_to,
    }


def count_tokens(text: str) -> int:
    from worker.llm.tokens import count  # noqa: PLC0415 - the tokenizer loads on first use only

    return count(text)
