"""`/v1/models` and `/v1/chat/completions`, authenticated by an API key, with OpenAI-style
errors (their own exception handler, so the rest of the API keeps its envelope)."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response, Router, get, post
from litestar.exceptions import HTTPException
from litestar.response import Stream
from litestar.serialization import decode_json

from api.compat.completions import Listening, Relay
from api.compat.errors import (
    OpenAIError,
    model_not_found,
    to_openai_response,
    too_long_a_thought,
    too_many_tokens,
    translate,
)
from api.compat.keys import key_caller
from api.compat.request import off_loop, read_request
from api.compat.turns import SESSION_HEADER, idempotency_key, likely_session, open_turn
from api.database import CallerDatabase
from api.errors import BadRequest
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.security import client_ip
from api.upstream import Upstream, call, rows
from core.settings import Settings

_MODEL_CREATED = 1_700_000_000


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _MODEL_CREATED, "owned_by": "chatgalaxy"}


async def _models(
    request: Request[Any, Any, Any], upstream: Upstream, database: CallerDatabase, settings: Settings
) -> list[dict[str, Any]]:
    caller = await key_caller(request.headers, database, settings.supabase.keys)
    rest = upstream.rest(caller.token)
    allowance = (await call(rest.rpc("usage_allowance", {}).execute())).data
    plan = allowance.get("plan") if isinstance(allowance, dict) else None
    allowed = plan.get("models") if isinstance(plan, dict) else None
    offered = rows((await call(rest.from_("models").select("id").order("sort_order").execute())).data)
    models = [str(m["id"]) for m in offered if allowed is None or m["id"] in allowed]
    roles = rows(
        (await call(rest.from_("ai_roles").select("slug").eq("is_active", True).order("sort_order").execute())).data
    )
    return [_model(m) for m in models] + [_model(f"role:{r['slug']}") for r in roles]


@get("/models")
async def list_models(
    request: Request[Any, Any, Any], upstream: Upstream, database: CallerDatabase, settings: Settings
) -> dict[str, Any]:
    """The models and roles (`role:<slug>`) this key's user may ask, OpenAI's list shape."""
    return {"object": "list", "data": await _models(request, upstream, database, settings)}


@get("/models/{model_id:path}")
async def retrieve_model(
    model_id: str, request: Request[Any, Any, Any], upstream: Upstream, database: CallerDatabase, settings: Settings
) -> dict[str, Any]:
    wanted = model_id.lstrip("/")
    for model in await _models(request, upstream, database, settings):
        if model["id"] == wanted:
            return model
    raise model_not_found(wanted)


FILES_LEFT_OUT = "X-ChatGalaxy-Files-Left-Out"
# What the openai SDKs send with every request besides the key (their x-stainless-* platform and retry
# headers, the organization and project they may name) and the Idempotency-Key README asks for: a
# browser's preflight (openai-node with dangerouslyAllowBrowser) must let them through (api/app.py).
OPENAI_SDK_HEADERS = (
    "idempotency-key",
    "openai-organization",
    "openai-project",
    "openai-beta",
    "x-stainless-arch",
    "x-stainless-lang",
    "x-stainless-os",
    "x-stainless-package-version",
    "x-stainless-retry-count",
    "x-stainless-read-timeout",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-timeout",
    "x-stainless-helper-method",
)


LARGE_BODY = 1 << 20  # a body this long (files, a long context) is decoded from JSON in a thread


async def body_of(request: Request[Any, Any, Any]) -> Any:
    """The request's JSON; a long body's decoded in a thread (up to API_V1_MAX_BODY_BYTES: ~50 ms
    of the event loop for 18 MiB until 12-05), a short one on the loop as before."""
    try:
        raw = await request.body()
        if len(raw) < LARGE_BODY:
            return await request.json()
        decoders = request.route_handler.resolve_type_decoders()
        return await off_loop(decode_json, raw, type_decoders=decoders)
    except HTTPException:
        raise  # a body over the size limit (413): not a JSON question, and answered as such
    except Exception as exc:
        raise OpenAIError(400, "The request body is not valid JSON.", "invalid_request_error", None) from exc


@post("/chat/completions", status_code=200, media_type="text/event-stream")  # JSON answers say so themselves
async def chat_completions(request: Request[Any, Any, Any]) -> Any:
    """A chat completion, answered from the request's own messages (a session named by
    `X-ChatGalaxy-Session` is continued instead), stored in the user's history and answered by the
    worker; the question may carry images and documents (data: URIs); `stream` gives OpenAI's SSE
    chunks (`reasoning_content` for a thinking model's thinking; `usage` when
    stream_options.include_usage is set).

    The services come straight from the app's state, not as injected dependencies: Litestar
    resolves several dependencies in a task group, which costs more on this first-token path
    than anything they do (see `api.deps.provide_caller`)."""
    state = request.app.state
    upstream: Upstream = state.upstream
    database: CallerDatabase = state.database
    settings: Settings = state.settings
    metrics: Metrics = state.metrics
    limiter: RateLimiter = state.limiter
    ip = client_ip(request.scope, settings.api.trust_forwarded_for)
    caller = await key_caller(request.headers, database, settings.supabase.keys, sending=(limiter, ip))
    body = await body_of(request)
    named = request.headers.get(SESSION_HEADER)
    ask = await read_request(body, settings.api.max_message_chars, continuing=named is not None)
    key = idempotency_key(request.headers)
    listening = Listening(upstream.hub, caller, named)
    try:
        if (guess := likely_session(caller, named)) is not None:
            listening.start(guess)  # the join overlaps the question's transaction and the model's TTFT
        question_id = await open_turn(
            database,
            caller,
            question=ask.question,
            model=ask.model,
            requested_model=ask.requested_model,
            role_slug=ask.role_slug,
            named_session=named,
            context=None if named is not None else ask.context,
            parameters=ask.parameters,
            files=ask.files,
            storage=upstream.storage(caller.token) if ask.files else None,
            key=key,
            web_search=ask.web_search,
            default_model=settings.llm.default_model,
            vision_model=settings.llm.vision_model,
        )
    except BaseException as exc:
        await listening.abandon()
        if isinstance(exc, BadRequest) and exc.code == "MaxTokensTooLarge":
            raise too_many_tokens(exc.message, ask.tokens_param) from exc
        if isinstance(exc, BadRequest) and exc.code == "ThinkingBudgetTooLarge":
            raise too_long_a_thought(exc.message, *ask.budget_source) from exc
        raise
    metrics.messages_sent.labels("openai").inc()
    relay = Relay(
        database=database,
        caller=caller,
        listening=listening,
        question_id=question_id,
        ask=ask,
        wait=settings.api.answer_timeout,
        poll=settings.api.answer_poll_interval,
    )
    # the earlier turns' files past what a question holds, left out (the oldest): said, not hidden
    left_out = {FILES_LEFT_OUT: str(ask.files_left_out)} if ask.files_left_out else {}
    if ask.stream:
        return Stream(
            relay.chunks(),
            media_type="text/event-stream",
            headers={
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "X-ChatGalaxy-Message": question_id,
                **left_out,
            },
        )
    try:
        answer = await relay.final_answer()
    except Exception as exc:  # an outage: the question is stored, and the SDKs retry a 5xx (a second one)
        error = translate(exc)
        error.headers = {**error.headers, "x-should-retry": "false", "X-ChatGalaxy-Message": question_id}
        raise error from exc
    finally:
        await relay.close()
    if answer is None:
        raise OpenAIError(
            504,
            "The answer did not complete in time; it will appear in the history.",
            "server_error",
            "timeout",
            **{"x-should-retry": "false", "X-ChatGalaxy-Message": question_id},
        )
    return Response(relay.completion(answer), media_type=MediaType.JSON, headers=left_out)


def openai_router(max_body_bytes: int) -> Router:
    """The /v1 routes. A request carries its whole conversation, so its body limit is its own
    (`API_V1_MAX_BODY_BYTES`), not the rest of the API's."""
    return Router(
        path="/v1",
        route_handlers=[list_models, retrieve_model, chat_completions],
        exception_handlers={Exception: to_openai_response},
        tags=["openai"],
        request_max_body_size=max_body_bytes,
    )
