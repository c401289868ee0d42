"""The fake DashScope HTTP server: its routes, each generation call from admission to answer, and
the admin API.

Routes (spec §8): native `POST /api/v1/services/aigc/text-generation/generation`, compatible
`POST /compatible-mode/v1/chat/completions` and `GET /compatible-mode/v1/models`; admin
`POST /_fake/faults`, `GET /_fake/stats`, `GET /_fake/requests` (the bodies received, for tests
that check what the worker sent), `POST /_fake/reset`; anything else is a JSON 404. Thinking,
search and the context cache: fakescope.features. A call passes fakescope.admission (its key,
body, knobs and pre-output faults), is answered as fakescope.replies composes it, and goes out as
fakescope.delivery sends it (streamed or whole).

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
from fakescope import admission, answers, compat, delivery, features, native, replies, vision
from fakescope.admission import JSON_TYPE
from fakescope.clock import Clock
from fakescope.errors import INVALID_KEY, NOT_FOUND, ApiError
from fakescope.options import FaultPlan, Knobs, defaults_from, override
from fakescope.playback import Frames
from fakescope.received import Received
from fakescope.stats import Stats
from fakescope.validate import Rejected, check, check_endpoint

NATIVE_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
COMPAT_PATH = "/compatible-mode/v1/chat/completions"
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

    async def _admit(self, request: web.Request) -> tuple[Any, Knobs]:
        """Auth, then the JSON body, then this call's knobs."""
        self.stats.calls += 1
        if not admission.authorized(request, self.settings.api_keys):
            raise Rejected(INVALID_KEY)
        body = await admission.read_body(request)
        knobs = admission.knobs_for(request, self.knobs, self.plan)
        return body, knobs

    def _reject(self, error: ApiError, request_id: str, *, compat_mode: bool, knobs: Knobs | None) -> web.Response:
        return admission.refusal(error, request_id, self.stats, compat_mode=compat_mode, knobs=knobs)

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
            admission.pre_stream_fault(knobs, self.stats)
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
        seed, reply = replies.reply_for(call, knobs, self.stats)
        extras, thoughts, reply, input_tokens = replies.with_extras(
            call, parsed.params, seed, knobs, reply, cache=self.cache
        )
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
            return await delivery.whole(
                request, request_id, done, reply.output_tokens, knobs, stats=self.stats, compat_mode=False
            )
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
            admission.pre_stream_fault(knobs, self.stats)
            parsed = compat.parse(body)
            sizes = await vision.measure(vision.compat_refs_in(parsed.messages), fetch=knobs.fetch_links)
            call = check(parsed.model, parsed.messages, parsed.params, stream=parsed.stream, incremental=True)
        except Rejected as rejected:
            return self._reject(rejected.error, request_id, compat_mode=True, knobs=knobs)
        self._record(request, body)
        seed, reply = replies.reply_for(call, knobs, self.stats)
        extras, thoughts, reply, input_tokens = replies.with_extras(
            call, parsed.params, seed, knobs, reply, cache=self.cache
        )
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
            return await delivery.whole(
                request, request_id, done, reply.output_tokens, knobs, stats=self.stats, compat_mode=True
            )
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
        thoughts: list[answers.Piece],
    ) -> web.StreamResponse:
        return await delivery.stream(
            request,
            request_id,
            reply,
            knobs=knobs,
            frames=frames,
            seed=seed,
            arrived=arrived,
            stats=self.stats,
            clock=self.clock,
            thoughts=thoughts,
        )

    # --- the rest ------------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        if not admission.authorized(request, self.settings.api_keys):
            return self._reject(INVALID_KEY, str(uuid.uuid4()), compat_mode=True, knobs=None)
        return web.Response(body=compat.models(), content_type=JSON_TYPE)

    async def _faults(self, request: web.Request) -> web.Response:
        try:
            body = _decode(await request.read())
            if not isinstance(body, dict):
                raise TypeError("expected a JSON object")
            self.plan.configure(body, self.knobs)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError, TypeError) as exc:
            return web.Response(body=_encode({"error": str(exc)}), status=400, content_type=JSON_TYPE)
        state = {"queued": len(self.plan.queue), "rate": self.plan.rate, "pool": self.plan.pool}
        return web.Response(body=_encode(state), content_type=JSON_TYPE)

    async def _stats(self, request: web.Request) -> web.Response:
        return web.Response(body=_encode(self.stats.snapshot()), content_type=JSON_TYPE)

    async def _requests(self, request: web.Request) -> web.Response:
        """The generation requests received (path, JSON body and its size in bytes), oldest first: the
        newest 200, fewer when their bodies pass 64 MiB."""
        return web.Response(body=_encode(list(self.received)), content_type=JSON_TYPE)

    async def _reset(self, request: web.Request) -> web.Response:
        """Zero the counters and drop scripted faults (streams in flight keep counting as active)."""
        self.stats.reset()
        self.plan.clear()
        self.cache.clear()
        self.received.clear()
        return web.Response(body=b"{}", content_type=JSON_TYPE)

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.Response(body=_encode(NOT_FOUND.native(str(uuid.uuid4()))), status=404, content_type=JSON_TYPE)
