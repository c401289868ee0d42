"""Hostile requests at the OpenAI-compatible door (`/v1`), sent with an API key, which the schema
fuzz (a user's session token) never gets past: completions with hostile models (another user's
private role among them), messages, content parts, stream options and session headers (another
user's session among them), raw bodies that are not JSON, model lookups, and keys that are revoked,
forged or not keys at all.

Each answer must be below 500, or the 504 `timeout` of a completion that was accepted (the fuzz
world has no worker, and this API waits a moment for an answer); an error must be OpenAI's shape
({"error": {"message", "type", ...}}); a stream must end with `[DONE]`, or with an error event
only for that timeout. An accepted completion stores exactly one question in the key's user's history,
never in another user's session; anything refused changes no row. The API must stay up and log no
error. `make test` sends a fixed, derandomized set (plus FOUND), `make fuzz` fresh ones.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.api.conftest import ApiProcess, start_api
from tests.conftest import LocalStack
from tests.fuzz.conftest import Fingerprint, FuzzReport, World
from tests.fuzz.door import LogWatch, header_safe
from tests.fuzz.hostile import (
    FUZZ,
    FUZZ_REQUESTS,
    IN_URL,
    as_utf8,
    fuzz_settings,
    hostile_text,
    hostile_value,
    json_bytes,
    mostly,
    url_part,
)

pytestmark = pytest.mark.timeout(3600 if FUZZ else 300)

EXAMPLES = 80
ANSWERED = ("qwen-turbo", "qwen-plus", "role:assistant", "role:tech_expert")  # models and roles the user may ask
MODELS = (*ANSWERED, "qwen-max", "role:", "gpt-4o")


@dataclass(frozen=True)
class Keys:
    """The fuzz user's live key and a revoked one."""

    live: str
    revoked: str


@dataclass(frozen=True)
class Call:
    """One request at /v1: `key` is the bearer sent (None: no Authorization header)."""

    method: str
    path: str
    key: str | None
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, bytes] = field(default_factory=dict)

    def __repr__(self) -> str:
        body = f"body={self.body!r:.400}" if self.raw is None else f"raw={self.raw!r:.100}"
        return f"Call({self.method} {self.path[:200]!r}, key={(self.key or '')[:30]!r}, {body}, {self.headers!r:.200})"


@pytest.fixture(scope="module")
def compat(fuzz_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """An API of its own on the fuzz world: nobody answers there, so an accepted completion waits
    API_ANSWER_TIMEOUT for its answer; here that is a moment, then a 504 `timeout`."""
    process = start_api(fuzz_stack, tmp_path_factory.mktemp("fuzz-openai") / "api.log", API_ANSWER_TIMEOUT="0.3")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def keys(fuzz_stack: LocalStack, world: World, fingerprint: Fingerprint) -> Keys:
    """Two keys of the fuzz user, one revoked. The live key's last use is stamped a day ahead: its
    once-a-minute stamp would otherwise change a row in the middle of a refused request's check."""
    rest = f"{fuzz_stack.url}/rest/v1/rpc"
    headers = {"apikey": fuzz_stack.anon_key, **world.user.bearer}
    with httpx.Client(trust_env=False, timeout=20) as client:
        made = [
            client.post(f"{rest}/create_api_key", json={"key_name": name}, headers=headers) for name in ("fuzz", "gone")
        ]
        for response in made:
            response.raise_for_status()
        live, gone = (response.json() for response in made)
        client.post(f"{rest}/revoke_api_key", json={"key_id": gone["id"]}, headers=headers).raise_for_status()
    fingerprint.fetch(
        f"update public.api_keys set last_used_at = now() + interval '1 day' where id = '{live['id']}' returning id"
    )
    return Keys(live["key"], gone["key"])


def small() -> st.SearchStrategy[Any]:
    """A hostile value for one field of a body: short enough that the body stays under the API's size
    limit (64 KB) and reaches the checks behind it. Whole bodies and questions still come 100 KB."""
    return hostile_value(IN_URL)


TINY_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGM8EaDBwMDAxMDAwMDAAAAPygFEiUmOcwAAAABJRU5ErkJggg=="
)


def _image_url() -> st.SearchStrategy[str]:
    """Links, data: URIs of any declared type (images and documents) with any bytes (a PNG's header
    with the rest torn or changed among them), and a real tiny PNG."""
    png = base64.b64decode(TINY_PNG)
    torn = st.tuples(st.integers(0, len(png)), st.binary(max_size=40)).map(lambda cut: png[: cut[0]] + cut[1])
    declared = st.sampled_from(("image/png", "image/jpeg", "application/pdf", "text/markdown", "text/plain"))
    data = st.tuples(declared, st.one_of(st.binary(max_size=64), torn)).map(
        lambda made: f"data:{made[0]};base64,{base64.b64encode(made[1]).decode()}"
    )
    return st.one_of(hostile_text(IN_URL), data, st.just(f"data:image/png;base64,{TINY_PNG}"))


def _content() -> st.SearchStrategy[Any]:
    document = st.fixed_dictionaries(
        {},
        optional={"file_data": _image_url(), "file_id": small(), "filename": mostly(st.just("notes.md"), small())},
    )
    part = st.fixed_dictionaries(
        {"type": mostly(st.sampled_from(("text", "image_url", "file")), small())},
        optional={
            "text": mostly(st.sampled_from(("hi", "你好")), small()),
            "image_url": mostly(st.fixed_dictionaries({"url": _image_url()}), small()),
            "file": mostly(document, small()),
        },
    )
    return mostly(st.sampled_from(("hi", "你好", "  spaced  ")), st.one_of(hostile_value(), st.lists(part, max_size=3)))


def _body(world: World) -> st.SearchStrategy[Any]:
    """A completion's body; most end with a user's question, so that many get past the checks to
    the question's insert and the relay."""
    message = st.fixed_dictionaries(
        {"role": mostly(st.sampled_from(("user", "system", "assistant")), small()), "content": _content()},
        optional={"name": small()},
    )
    question = st.fixed_dictionaries({"role": st.just("user"), "content": _content()})
    messages = st.one_of(
        st.tuples(st.lists(message, max_size=2), question).map(
            lambda earlier_last: [*earlier_last[0], earlier_last[1]]
        ),
        st.lists(message, min_size=1, max_size=3),
    )
    model = mostly(
        st.sampled_from(ANSWERED),
        st.sampled_from((*MODELS, f"role:{world.other_role_slug}", f"role:{world.other_role_id}")),
    )
    body = st.fixed_dictionaries(
        {
            "model": mostly(model, small()),
            "messages": mostly(messages, small()),
        },
        optional={
            "stream": mostly(st.booleans(), small()),
            "stream_options": mostly(
                st.fixed_dictionaries(
                    {"include_usage": st.booleans()},
                    optional={"include_obfuscation": mostly(st.booleans(), small()), "continuous_usage_stats": small()},
                ),
                small(),
            ),
            "temperature": mostly(st.floats(-1, 3, allow_nan=False), small()),
            "top_p": mostly(st.floats(0, 1.5, allow_nan=False), small()),
            "max_tokens": mostly(st.integers(-1, 2_000_000), small()),
            "max_completion_tokens": small(),
            "stop": mostly(st.lists(st.text(max_size=4), max_size=5), small()),
            "seed": mostly(st.integers(-1, 2**64), small()),
            "presence_penalty": small(),
            "frequency_penalty": mostly(st.sampled_from((0, 0.5)), small()),
            "n": mostly(st.integers(0, 3), small()),
            "enable_thinking": mostly(st.booleans(), small()),
            "thinking_budget": mostly(st.integers(-1, 2_000_000), small()),
            "top_k": mostly(st.integers(-1, 200), small()),
            "repetition_penalty": mostly(st.floats(-1, 11, allow_nan=False), small()),
            "modalities": mostly(st.lists(st.sampled_from(("text", "audio")), max_size=2), small()),
            "reasoning_effort": mostly(
                st.sampled_from(("none", "minimal", "low", "medium", "high", "xhigh", "max", "ultra")), small()
            ),
            # the chat clients' own shapes of a thinking switch (api/compat/peers.py)
            "thinking": mostly(
                st.fixed_dictionaries(
                    {"type": mostly(st.sampled_from(("enabled", "disabled", "adaptive")), small())},
                    optional={"budget_tokens": mostly(st.integers(-1, 100_000), small())},
                ),
                small(),
            ),
            "reasoning": mostly(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "effort": mostly(st.sampled_from(("none", "low", "high", "max")), small()),
                        "enabled": mostly(st.booleans(), small()),
                        "max_tokens": mostly(st.integers(-1, 100_000), small()),
                        "exclude": mostly(st.booleans(), small()),
                        "summary": small(),
                    },
                ),
                small(),
            ),
            "chat_template_kwargs": mostly(
                st.fixed_dictionaries({}, optional={"enable_thinking": mostly(st.booleans(), small())}), small()
            ),
            "min_p": small(),
            "enable_search": mostly(st.booleans(), small()),
            "search_options": mostly(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "search_strategy": mostly(st.sampled_from(("turbo", "max", "standard", "agent")), small()),
                        "forced_search": mostly(st.booleans(), small()),
                        "enable_source": small(),
                        "freshness": small(),
                    },
                ),
                small(),
            ),
            "web_search_options": mostly(st.just({}), small()),
            "response_format": small(),
            "tools": small(),
            "logprobs": small(),
            "user": small(),
        },
    )
    # A lone surrogate anywhere makes the body invalid JSON to the API (rightly): most bodies are
    # drawn without, so that they reach the checks behind the parse.
    return mostly(st.one_of(body.map(as_utf8), body.map(as_utf8), body), hostile_value())


@st.composite
def call(draw: Callable[..., Any], world: World, keys: Keys) -> Call:
    key = draw(
        mostly(
            st.just(keys.live),
            st.one_of(
                st.sampled_from((keys.revoked, world.user.access_token, keys.live[:-1] + "x", None)),
                hostile_text(IN_URL).map(lambda text: "sk-cg-" + text),
                hostile_text(IN_URL),
            ),
        )
    )
    shape = draw(st.sampled_from(("completion", "completion", "completion", "completion", "models", "model")))
    if shape == "models":
        return Call("GET", "/v1/models", key)
    if shape == "model":
        name = draw(mostly(st.sampled_from((*MODELS, f"role:{world.other_role_slug}")), hostile_text(IN_URL)))
        return Call("GET", f"/v1/models/{url_part(name)}", key)
    headers: dict[str, bytes] = {}
    if draw(st.booleans()):
        session = draw(
            st.one_of(
                st.sampled_from((world.session_id, world.other_session_id, world.session_id.upper())).map(str.encode),
                hostile_text(IN_URL).map(header_safe),
            )
        )
        headers["X-ChatGalaxy-Session"] = session
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.one_of(st.binary(max_size=300), hostile_text().map(lambda t: t.encode("utf-8", "surrogatepass"))))
        return Call("POST", "/v1/chat/completions", key, raw=raw, headers=headers)
    return Call("POST", "/v1/chat/completions", key, body=draw(_body(world)), headers=headers)


class OpenAIDoor:
    """Sends Calls at /v1, judges each answer, and keeps the report."""

    def __init__(
        self, api: ApiProcess, world: World, fingerprint: Fingerprint, report: FuzzReport, *, suite: str
    ) -> None:
        self.api = api
        self.world = world
        self.fingerprint = fingerprint
        self.report = report.suite(suite)
        self.baseline = fingerprint.take()
        self.logged = LogWatch(api.log)
        self.client = httpx.Client(base_url=api.url, trust_env=False, timeout=30)

    def questions(self) -> dict[str, int]:
        """The user's questions per session, and how many the other user's session holds."""
        found = self.fingerprint.fetch(
            "select session_id::text as session, count(*) as n from chat_messages where message_type = 'user'"
            f" and (user_id = '{self.world.user.user_id}' or session_id = '{self.world.other_session_id}')"
            " group by 1"
        )
        return {str(row["session"]): int(row["n"]) for row in found}

    def send(self, sent: Call) -> httpx.Response:
        label = repr(sent)[:800]
        headers = dict(sent.headers)
        if sent.key is not None:
            headers["Authorization"] = (b"Bearer " + header_safe(sent.key)).rstrip()
        content = sent.raw if sent.raw is not None else (json_bytes(sent.body) if sent.body is not None else None)
        if content is not None:
            headers["Content-Type"] = b"application/json"
        before = self.questions()
        sending = {name.encode(): value for name, value in headers.items()}
        response = self.client.request(sent.method, sent.path, content=content, headers=sending)
        accepted = self._judge_answer(label, response)
        operation = f"{sent.method} {sent.path.split('/')[2] if sent.path.count('/') > 1 else sent.path}"
        self.report.count(operation, response.status_code, expected=accepted)
        after = self.questions()
        added = {session: after.get(session, 0) - before.get(session, 0) for session in after}
        added = {session: n for session, n in added.items() if n}
        self.baseline, changed = self.fingerprint.step(self.baseline)
        if accepted and (sum(added.values()) != 1 or self.world.other_session_id in added):
            self.report.failures.append(f"{label} -> accepted, questions added {added}")
        if not accepted and changed:
            self.report.failures.append(f"{label} -> refused ({response.status_code}) but changed {changed}")
        return response

    def _judge_answer(self, label: str, response: httpx.Response) -> bool:
        """Whether the request was accepted (a completion stored); failures go to the report."""
        status, kind = response.status_code, response.headers.get("content-type", "")
        if status == 200 and kind.startswith("text/event-stream"):
            return self._judge_stream(label, response.text)
        if status == 200:
            return response.request.url.path.endswith("/completions")
        try:
            error = response.json()["error"]
            shaped = isinstance(error["message"], str) and isinstance(error["type"], str)
        except (ValueError, KeyError, TypeError):
            shaped, error = False, None
        if not shaped:
            self.report.failures.append(f"{label} -> {status} without OpenAI's error shape: {response.text[:300]}")
        timed_out = status == 504 and isinstance(error, dict) and error.get("code") == "timeout"
        if status >= 500 and not timed_out:
            self.report.failures.append(f"{label} -> {status}: {response.text[:300]}")
        return timed_out

    def _judge_stream(self, label: str, text: str) -> bool:
        """A stream ends with [DONE], or, as OpenAI's do, with an error event (here only the timeout)."""
        events = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
        last = json.loads(events[-1]) if events and events[-1] != "[DONE]" else None
        error = last.get("error") if isinstance(last, dict) else None
        if not events or (last is not None and not isinstance(error, dict)):
            self.report.failures.append(f"{label} -> a stream ended by neither [DONE] nor an error: {text[-300:]}")
        elif isinstance(error, dict) and error.get("code") != "timeout":
            self.report.failures.append(f"{label} -> a stream ended by an error: {error}")
        return True

    def close(self) -> None:
        self.client.close()


def _send_all(door: OpenAIDoor, calls: list[Call]) -> None:
    for each in calls:
        door.send(each)
    assert door.api.process.poll() is None, "the API died"
    assert door.report.failures == []
    assert door.logged.errors() == []


def _found(world: World, keys: Keys) -> list[Call]:
    """Requests that fuzzing once found going wrong."""
    ask = {"model": "qwen-turbo", "messages": [{"role": "user", "content": "hi"}]}
    return [
        # 12-04: a path under /v1 that no route serves ("/v1/models/.." is "/v1/") answered in the
        # API's own envelope, which OpenAI's SDKs do not read.
        Call("GET", "/v1/models/..", keys.live),
        # 12-04: a session header in capitals (the user's own session) started the answer stream's
        # join on the capitals' channel, which Realtime refused: a warning with a traceback, a second join.
        Call(
            "POST",
            "/v1/chat/completions",
            keys.live,
            body=ask,
            headers={"X-ChatGalaxy-Session": world.session_id.upper().encode()},
        ),
        # 12-04: a message whose role is an object (unhashable) was looked up among the known roles: 500.
        Call(
            "POST",
            "/v1/chat/completions",
            keys.live,
            body={
                "model": "qwen-turbo",
                "stream": True,
                "messages": [{"role": {}, "content": "x"}, ask["messages"][0]],
            },
        ),
    ]


def test_found_openai_cases_stay_fixed(
    compat: ApiProcess, world: World, keys: Keys, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    door = OpenAIDoor(compat, world, fingerprint, fuzz_report, suite="found")
    try:
        _send_all(door, _found(world, keys))
    finally:
        door.close()


def test_openai_door_refuses_what_is_another_users(
    compat: ApiProcess, world: World, keys: Keys, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    """Sent on every run whatever the draws: a completion as another user's private role (by slug and
    by uuid) and into another user's session is refused as a model or a session not found."""
    door = OpenAIDoor(compat, world, fingerprint, fuzz_report, suite="openai: cross-user")
    messages = [{"role": "user", "content": "hi"}]
    try:
        codes = [
            door.send(
                Call(
                    "POST",
                    "/v1/chat/completions",
                    keys.live,
                    body={"model": model, "messages": messages},
                    headers=headers,
                )
            ).json()["error"]["code"]
            for model, headers in (
                (f"role:{world.other_role_slug}", {}),
                (f"role:{world.other_role_id}", {}),
                ("qwen-turbo", {"X-ChatGalaxy-Session": world.other_session_id.encode()}),
            )
        ]
        assert codes == ["model_not_found", "model_not_found", "session_not_found"]
        _send_all(door, [Call("GET", f"/v1/models/role:{world.other_role_slug}", keys.live)])
    finally:
        door.close()


def test_openai_door_refuses_hostile_requests_cleanly(
    compat: ApiProcess, world: World, keys: Keys, fingerprint: Fingerprint, fuzz_report: FuzzReport
) -> None:
    door = OpenAIDoor(compat, world, fingerprint, fuzz_report, suite="openai")
    budget = FUZZ_REQUESTS // 2

    @given(sent=call(world, keys))
    @fuzz_settings(EXAMPLES, fuzz=budget)
    def probe(sent: Call) -> None:
        door.send(sent)

    try:
        probe()
        _send_all(door, [])
    finally:
        door.close()
    if FUZZ:
        assert door.report.requests >= budget
