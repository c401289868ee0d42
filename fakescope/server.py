"""The fake DashScope HTTP server: routes, auth, admission, and the admin API.

Routes (spec §8): native `POST /api/v1/services/aigc/text-generation/generation`, compatible
`POST /compatible-mode/v1/chat/completions` and `GET /compatible-mode/v1/models`; admin
`POST /_fake/faults`, `GET /_fake/stats`, `GET /_fake/requests` (the bodies received, for tests
that check what the worker sent), `POST /_fake/reset`; anything else is a JSON 404. Thinking,
search and the context cache: fakescope.features.

Auth: `Authorization: Bearer <key>`. With `FAKESCOPE_API_KEYS` set only those keys pass; otherwise
any non-empty key passes except keys starting with `sk-invalid`, which get 401 InvalidApiKey.

Use in-process with `async with FakeScope(...) as fake:` or `await fake.start()` / `await fake.stop()`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import msgspec
from aiohttp import web

from core.settings import FakeScopeSettings
from fakescope import answers, compat, features, native, titles, tokens, vision
from fakescope.clock import Clock
from fakescope.errors import (
    FAULTS,
    INVALID_KEY,
    NOT_FOUND,
    OUTPUT_INSPECTION,
    STREAM_FAULTS,
    ApiError,
    invalid_parameter,
)
from fakescope.options import HEADER, FaultPlan, Knobs, defaults_from, override
from fakescope.playback import Frames, play, reset_connection, sse_response
from fakescope.received import Received
from fakescope.stats import Stats
from fakescope.validate import Call, Rejected, check, check_endpoint

NATIVE_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
COMPAT_PATH = "/compatible-mode/v1/chat/completions"
INVALID_KEY_PREFIX = "sk-invalid"
_JSON = "application/json"
_decode = msgspec.json.decode
_encode = msgspec.json.encode


class FakeScope:
    def __init__(self, settings: FakeScopeSettings | None = None, **knobs: Any) -> None:
        """`knobs` override the settings' defaults (e.g. `ttft=0, tokens_per_s=0` for fast tests)."""
        self.settings = settings or FakeScopeSettings()
        self.knobs = override(defaults_from(self.settings), knobs)
        self.stats = Stats()
        self.plan = FaultPlan()
        self.cache = features.PrefixCache()
        self.received = Received()
        self.clock = Clock()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle -------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_post(NATIVE_PATH, self._native)
        app.router.add_post(MULTIMODAL_PATH, self._multimodal)
        app.router.add_post(COMPAT_PATH, self._compat)
        app.router.add_get("/compatible-mode/v1/models", self._models)
        app.router.add_post("/_fake/faults", self._faults)
        app.router.add_get("/_fake/stats", self._stats)
        app.router.add_get("/_fake/requests", self._requests)
        app.router.add_post("/_fake/reset", self._reset)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        return app

    async def start(self, host: str | None = None, port: int | None = None) -> str:
        """Listen (port 0 picks a free one) and return the root URL, e.g. `http://127.0.0.1:8089`."""
        host = host or self.settings.host
        self._runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, self.settings.port if port is None else port, backlog=4096)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.clock.close()

    async def __aenter__(self) -> Self:
        await self.start(port=0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def native_url(self) -> str:
        """What `dashscope.base_http_api_url` (DASHSCOPE_HTTP_BASE_URL) should be."""
        return f"{self.base_url}/api/v1"

    @property
    def compat_url(self) -> str:
        return f"{self.base_url}/compatible-mode/v1"

    async def until(self, condition: Callable[[Stats], bool], within: float = 5.0) -> None:
        """Wait until `condition(stats)` holds, polling every 10 ms; TimeoutError after `within` seconds."""
        for _ in range(max(1, int(within / 0.01))):
            if condition(self.stats):
                return
            await asyncio.sleep(0.01)
        if not condition(self.stats):
            raise TimeoutError(f"fakescope stats never met the condition: {self.stats.snapshot()}")

    # --- admission ---------------------------------------------------------------------------

    def _authorized(self, request: web.BaseRequest) -> bool:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return False
        if self.settings.api_keys:
            return key in self.settings.api_keys
        return not key.startswith(INVALID_KEY_PREFIX)

    def _knobs(self, request: web.BaseRequest) -> Knobs:
        """Defaults, then the request's X-Fake-Options, then whatever the fault plan scripts for this call."""
        changes: dict[str, Any] = {}
        raw = request.headers.get(HEADER)
        try:
            if raw:
                changes.update(_decode(raw))
            changes.update(self.plan.take())
            return override(self.knobs, changes)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError) as exc:
            raise Rejected(invalid_parameter(f"{HEADER}: {exc}")) from exc

    async def _admit(self, request: web.Request) -> tuple[Any, Knobs]:
        """Auth, then the JSON body, then this call's knobs."""
        self.stats.calls += 1
        if not self._authorized(request):
            raise Rejected(INVALID_KEY)
        try:
            body = _decode(await request.read())
        except msgspec.DecodeError as exc:
            raise Rejected(invalid_parameter("Request body is not valid JSON.")) from exc
        return body, self._knobs(request)

    def _pre_stream_fault(self, knobs: Knobs) -> None:
        """Raise the scripted fault that answers before any output, if there is one."""
        if knobs.fault in FAULTS:
            self.stats.faults[knobs.fault] += 1
            raise Rejected(FAULTS[knobs.fault])

    def _reject(self, error: ApiError, request_id: str, *, compat_mode: bool, knobs: Knobs | None) -> web.Response:
        status = (error.compat_status or error.status) if compat_mode else error.status
        self.stats.errors += 1
        self.stats.statuses[status] += 1
        headers = {"x-request-id": request_id}
        if knobs is not None and knobs.retry_after is not None:
            headers["Retry-After"] = f"{knobs.retry_after:g}"
        if knobs is not None and knobs.sse_error and not compat_mode:
            headers["x-dashscope-finished"] = "true"
            frame = native.error_frame(1, error, request_id)
            return web.Response(body=frame, status=200, headers=headers, content_type="text/event-stream")
        payload = error.compat(request_id) if compat_mode else error.native(request_id)
        return web.Response(body=_encode(payload), status=status, headers=headers, content_type=_JSON)

    # --- generation --------------------------------------------------------------------------

    async def _native(self, request: web.Request) -> web.StreamResponse:
        return await self._generation(request, multimodal=False)

    async def _multimodal(self, request: web.Request) -> web.StreamResponse:
        return await self._generation(request, multimodal=True)

    async def _generation(self, request: web.Request, *, multimodal: bool) -> web.StreamResponse:
        """Both native endpoints: text generation, and multimodal (list content with images, fakescope.vision)."""
        arrived = time.monotonic()
        request_id = str(uuid.uuid4())
        knobs: Knobs | None = None
        sizes: list[tuple[int, int]] = []
        try:
            body, knobs = await self._admit(request)
            self._pre_stream_fault(knobs)
            parsed = native.parse(body, request)
            check_endpoint(parsed.model, multimodal)
            if multimodal:
                sizes = await vision.measure(vision.refs_in(parsed.messages), fetch=knobs.fetch_links)
            call = check(
                parsed.model,
                parsed.messages,
                parsed.params,
                stream=parsed.stream,
                incremental=parsed.incremental,
                parts=multimodal,
            )
        except Rejected as rejected:
            return self._reject(rejected.error, request_id, compat_mode=False, knobs=knobs)
        self._record(request, body)
        seed, reply = self._reply(call, knobs)
        extras, thoughts, reply, input_tokens = self._extras(call, parsed.params, seed, knobs, reply)
        if multimodal:
            images = sum(vision.image_tokens(w, h) for w, h in sizes)
            input_tokens += images
            extras = dataclasses.replace(extras, image_tokens=images, parts=True)
        if not parsed.stream:
            done = native.body(
                request_id,
                text=reply.text,
                finish=reply.finish_reason,
                input_tokens=input_tokens,
                output_tokens=reply.output_tokens,
                message_format=parsed.message_format,
                extras=extras,
            )
            return await self._whole(request, request_id, done, reply.output_tokens, knobs, compat_mode=False)
        frames = native.NativeFrames(request_id, input_tokens, parsed.incremental, parsed.message_format, extras)
        return await self._stream(
            request, request_id, reply, knobs=knobs, frames=frames, seed=seed, arrived=arrived, thoughts=thoughts
        )

    async def _compat(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        request_id = str(uuid.uuid4())
        knobs: Knobs | None = None
        try:
            body, knobs = await self._admit(request)
            self._pre_stream_fault(knobs)
            parsed = compat.parse(body)
            sizes = await vision.measure(vision.compat_refs_in(parsed.messages), fetch=knobs.fetch_links)
            call = check(parsed.model, parsed.messages, parsed.params, stream=parsed.stream, incremental=True)
        except Rejected as rejected:
            return self._reject(rejected.error, request_id, compat_mode=True, knobs=knobs)
        self._record(request, body)
        seed, reply = self._reply(call, knobs)
        extras, thoughts, reply, input_tokens = self._extras(call, parsed.params, seed, knobs, reply)
        input_tokens += sum(vision.image_tokens(w, h) for w, h in sizes)  # images count as input
        if not parsed.stream:
            done = compat.body(
                request_id,
                model=call.model,
                text=reply.text,
                finish=reply.finish_reason,
                input_tokens=input_tokens,
                output_tokens=reply.output_tokens,
                cached_tokens=extras.cached_tokens,
            )
            return await self._whole(request, request_id, done, reply.output_tokens, knobs, compat_mode=True)
        frames = compat.CompatFrames(
            request_id,
            call.model,
            input_tokens,
            parsed.include_usage,
            int(time.time()),
            thinking=extras.thinking,
            cached_tokens=extras.cached_tokens,
        )
        return await self._stream(
            request, request_id, reply, knobs=knobs, frames=frames, seed=seed, arrived=arrived, thoughts=thoughts
        )

    def _record(self, request: web.Request, body: Any) -> None:
        """Keep the request for `GET /_fake/requests` (newest last, bounded)."""
        self.received.keep(request.path, body, request.content_length or 0)

    def _extras(
        self, call: Call, params: dict[str, Any], seed: int, knobs: Knobs, reply: answers.Reply
    ) -> tuple[native.Extras, list[answers.Piece], answers.Reply, int]:
        """Thinking, search and cache for a call of either protocol: the extras, the thoughts, the
        (cited) reply and the billed input tokens."""
        thoughts: list[answers.Piece] = []
        if features.thinking_wanted(call.model, params):
            thoughts = features.reasoning(seed, knobs.reasoning_tokens, params.get("thinking_budget"))
        found: list[dict[str, Any]] = []
        search = features.search_wanted(call.model, params)
        raw_options = params.get("search_options")
        options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
        input_tokens = call.input_tokens
        if search:
            found = features.sources(call.contents[-1] if call.contents else "")
            input_tokens += features.SEARCH_RESULT_TOKENS
            if options.get("enable_citation"):
                cited = features.cite(reply.pieces, len(found), options.get("citation_format"))
                reply = answers.Reply(cited, reply.finish_reason)
        cached = self.cache.lookup_and_store(call.model, list(zip(call.roles, call.contents, strict=True)))
        extras = native.Extras(
            thinking=features.thinking_wanted(call.model, params),
            sources=tuple(found) if options.get("enable_source") else (),
            search=search,
            search_strategy=str(options.get("search_strategy") or "turbo"),
            cached_tokens=cached,
        )
        if thoughts:
            reply = answers.Reply(thoughts + reply.pieces, reply.finish_reason)
        return extras, thoughts, reply, input_tokens

    def _reply(self, call: Call, knobs: Knobs) -> tuple[int, answers.Reply]:
        self.stats.input_tokens += call.input_tokens
        seed = answers.seed_of(call.model, call.contents, call.seed)
        if titles.is_title_request(call.roles, call.contents):
            title = list(tokens.pieces(titles.title_for(call.roles, call.contents)))
            return seed, answers.limit(title, call.max_tokens, call.stop)
        question = call.contents[-1] if call.contents else ""
        pieces = answers.compose(seed, knobs.answer_tokens, question)
        pieces = answers.as_json(pieces) if call.json_mode else pieces
        return seed, answers.limit(pieces, call.max_tokens, call.stop)

    async def _stream(
        self,
        request: web.Request,
        request_id: str,
        reply: answers.Reply,
        *,
        knobs: Knobs,
        frames: Frames,
        seed: int,
        arrived: float,
        thoughts: list[answers.Piece] | None = None,
    ) -> web.StreamResponse:
        headers = {"Content-Type": native.SSE_TYPE, "Cache-Control": "no-cache", "x-request-id": request_id}
        response = sse_response(headers, knobs)
        await response.prepare(request)
        self.stats.statuses[200] += 1
        thought_events: list[tuple[str, int]] = []
        events = answers.events(reply, knobs.tokens_per_event)
        if thoughts:  # thinking first, in events of its own, then the answer counting on from it
            thought_events = answers.events(answers.Reply(thoughts, "stop"), knobs.tokens_per_event)
            spent = thought_events[-1][1]
            answer = answers.Reply(reply.pieces[len(thoughts) :], reply.finish_reason)
            events = thought_events + [(t, spent + n) for t, n in answers.events(answer, knobs.tokens_per_event)]
        await play(
            request,
            response,
            events=events,
            reasoning_events=len(thought_events),
            finish_reason=reply.finish_reason,
            knobs=knobs,
            frames=frames,
            stats=self.stats,
            seed=seed,
            arrived=arrived,
            clock=self.clock,
        )
        return response

    async def _whole(
        self, request: web.Request, request_id: str, done: bytes, output_tokens: int, knobs: Knobs, *, compat_mode: bool
    ) -> web.StreamResponse:
        """A non-streaming answer: wait as long as generating it would take, then send it (or fail)."""
        seconds = knobs.ttft + (output_tokens / knobs.tokens_per_s if knobs.tokens_per_s else 0.0)
        try:
            await asyncio.sleep(seconds)
            if knobs.fault in STREAM_FAULTS:
                self.stats.faults[knobs.fault] += 1
                if knobs.fault == "output_moderation":
                    return self._reject(OUTPUT_INSPECTION, request_id, compat_mode=compat_mode, knobs=None)
                if knobs.fault == "stall":
                    await asyncio.sleep(knobs.stall_s)
                reset_connection(request)
                raise web.HTTPInternalServerError
        except asyncio.CancelledError:
            self.stats.disconnects += 1
            raise
        self.stats.output_tokens += output_tokens
        self.stats.completed += 1
        self.stats.statuses[200] += 1
        return web.Response(body=done, headers={"x-request-id": request_id}, content_type=_JSON)

    # --- the rest ------------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._reject(INVALID_KEY, str(uuid.uuid4()), compat_mode=True, knobs=None)
        return web.Response(body=compat.models(), content_type=_JSON)

    async def _faults(self, request: web.Request) -> web.Response:
        try:
            body = _decode(await request.read())
            if not isinstance(body, dict):
                raise TypeError("expected a JSON object")
            self.plan.configure(body, self.knobs)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError) as exc:
            return web.Response(body=_encode({"error": str(exc)}), status=400, content_type=_JSON)
        state = {"queued": len(self.plan.queue), "rate": self.plan.rate, "pool": self.plan.pool}
        return web.Response(body=_encode(state), content_type=_JSON)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.Response(body=_encode(self.stats.snapshot()), content_type=_JSON)

    async def _requests(self, request: web.Request) -> web.Response:
        """The generation requests received (path, JSON body and its size in bytes), oldest first: the
        newest 200, fewer when their bodies pass 64 MiB."""
        return web.Response(body=_encode(list(self.received)), content_type=_JSON)

    async def _reset(self, request: web.Request) -> web.Response:
        """Zero the counters and drop scripted faults (streams in flight keep counting as active)."""
        self.stats.reset()
        self.plan.clear()
        self.cache.clear()
        self.received.clear()
        return web.Response(body=b"{}", content_type=_JSON)

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.Response(body=_encode(NOT_FOUND.native(str(uuid.uuid4()))), status=404, content_type=_JSON)
