"""An OpenAI-compatible request checked and turned into what is stored and asked (`Ask`).

The request's last message, a `user` one, is the question. The messages before it are its
context, as in OpenAI's API: stored with the question (`question_contexts`) and given to the model
as the question's history. A request that names its session (`X-ChatGalaxy-Session`) continues that
stored conversation instead: its earlier messages are checked but not used. The images and
documents of its user messages (`image_url` and `file` parts, uploads.py), the earlier turns' too
(clients send the whole conversation again on every turn), are stored as the question's attachments
and seen with it, within a question's limits (8 images, 10 files): its own files are held to them,
the earlier turns' fill the room left, the most recent first (`_with_earlier`); its sampling
parameters go over the role's settings. What cannot be honoured is refused with OpenAI's error shape, never ignored.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from api.compat.errors import bad_request
from api.compat.parameters import JSON_NOT_ASKED, check_keys, parse_parameters, parse_search, unwrap_extra_body
from api.compat.peers import budget_source, read_peer_shapes
from api.compat.uploads import MAX_FILES, MAX_IMAGES, RequestFile, decode_document, decode_image


@dataclass(frozen=True)
class Ask:
    """A checked request: what to store and how to answer."""

    model: str  # as the client named it
    requested_model: str | None  # stored on the question (None: the worker's default)
    role_slug: str | None
    question: str
    stream: bool
    include_usage: bool
    context: tuple[dict[str, str], ...] = ()  # the messages before the question: {role, content}
    parameters: dict[str, Any] = field(default_factory=dict)  # sampling parameters the request set
    files: tuple[RequestFile, ...] = ()  # the question's images and documents, decoded and checked
    web_search: bool = False  # search the web before answering (the question's switch, as in the web app)
    files_left_out: int = 0  # earlier turns' files past what the question holds (the oldest)
    tokens_param: str = "max_tokens"  # the name the request's token limit was sent under (kept as max_tokens)
    # the key its thinking budget came from and the name it was said under (peers.budget_source)
    budget_source: tuple[str, str] = ("thinking_budget", "thinking_budget")


_CONTEXT_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
MAX_CONTEXT_CHARS = 1_048_576  # as migrations/..._openai_requests_bring_their_context.sql checks


def _text_of(content: Any, at: int, files: list[RequestFile] | None = None, *, user: bool = True) -> str:
    """A message's text: a string, or the text parts of a list; a user message's `image_url` and
    `file` parts are decoded into `files` (None: accepted, not decoded), any other part is refused."""
    if isinstance(content, str):
        text = content
    elif isinstance(content, list) and content:
        texts = []
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind in ("image_url", "file") and user:
                if files is not None:
                    files.append(_file(part, at, files))
            else:
                where = "files only in user messages" if kind in ("image_url", "file") else f"not {kind!r}"
                raise bad_request(
                    f"messages[{at}]: text, image_url and file content parts only ({where}).",
                    "messages",
                    "unsupported_content",
                )
        text = "\n".join(texts)
    else:
        raise bad_request(f"messages[{at}].content must be a string or an array of content parts.", "messages")
    if "\x00" in text:
        raise bad_request("The message must not contain NUL characters.", "messages")
    return text


def _file(part: dict[str, Any], at: int, held: list[RequestFile]) -> RequestFile:
    """One `image_url` or `file` part, decoded and checked; `held`: the message's files so far."""
    if part["type"] == "file":
        return decode_document(part, at, len(held) + 1)
    return decode_image(part, at, len(held) + 1)


def _own_files(files: list[RequestFile]) -> None:
    """The question's own files within what a question holds (the database's limits)."""
    if sum(f.image for f in files) > MAX_IMAGES:
        raise bad_request(
            f"The last message may carry at most {MAX_IMAGES} images (what one question holds).",
            "messages",
            "too_many_images",
        )
    if len(files) > MAX_FILES:
        raise bad_request(
            f"The last message may carry at most {MAX_FILES} files (what one question holds).",
            "messages",
            "too_many_files",
        )


def _with_earlier(own: list[RequestFile], earlier: list[RequestFile]) -> tuple[list[RequestFile], int]:
    """The files the question carries: the earlier turns' (a client sends its whole conversation
    again, files included), the most recent first, in the room its own leave within a question's
    limits, then its own; a file sent again (the same bytes and type) is carried once, where it was
    sent last. How many earlier ones were left out (the oldest, as the oldest turns leave a history
    too long) is the second value."""
    seen = {(f.mime_type, f.data) for f in own}
    images, count = sum(f.image for f in own), len(own)
    kept: list[RequestFile] = []
    left_out = 0
    for file in reversed(earlier):
        if (file.mime_type, file.data) in seen:
            continue
        seen.add((file.mime_type, file.data))
        if count == MAX_FILES or (file.image and images == MAX_IMAGES):
            left_out += 1
            continue
        kept.append(file)
        images, count = images + file.image, count + 1
    return [*reversed(kept), *own], left_out


def _message(message: Any, at: int, files: list[RequestFile] | None = None) -> dict[str, str]:
    if not isinstance(message, dict):
        raise bad_request(f"messages[{at}] must be an object.", "messages")
    role = message.get("role")
    if role in ("tool", "function") or message.get("tool_calls") or message.get("function_call"):
        raise bad_request(
            f"messages[{at}]: tools and function calls are not supported.", "messages", "unsupported_role"
        )
    if not isinstance(role, str) or role not in _CONTEXT_ROLES:
        raise bad_request(
            f"messages[{at}].role must be one of system, developer, user, assistant.", "messages", "invalid_role"
        )
    return {"role": _CONTEXT_ROLES[role], "content": _text_of(message.get("content"), at, files, user=role == "user")}


def _continued(prefix: str | None, max_chars: int, parameters: dict[str, Any]) -> dict[str, Any]:
    """The words a last assistant message gives the answer to continue (`prefix`: DashScope's
    partial mode, which it takes without deep thinking only), or nothing when it has none."""
    if prefix is None or not prefix.strip():
        return {}  # an empty one: the answer starts afresh, as OpenAI's does after it
    if len(prefix) > max_chars:
        raise bad_request(f"The last assistant message must be at most {max_chars} characters.", "messages")
    if parameters.get("thinking") is True:
        raise bad_request(
            "A last assistant message is continued without deep thinking (Qwen's partial mode); do not ask for both.",
            "messages",
            "unsupported_value",
        )
    return {"prefix": prefix}


def _stream_options(options: dict[str, Any]) -> None:
    """OpenAI's other stream option, include_obfuscation (padding against length side channels:
    chunks here carry none, as OpenAI's default has none to read), is taken as a boolean; any other,
    as vLLM's continuous_usage_stats (usage in every chunk), is refused: it was ignored, and the
    client waited in every chunk for usage that came once, at the end."""
    padded = options.get("include_obfuscation")
    if padded is not None and not isinstance(padded, bool):
        raise bad_request(
            "stream_options.include_obfuscation must be true or false.", "stream_options", "invalid_value"
        )
    other = sorted(set(options) - {"include_usage", "include_obfuscation"})
    if other:
        raise bad_request(
            f"stream_options.{other[0]} cannot be set here: usage comes in one chunk at the end"
            " (include_usage), and no other stream option is read.",
            "stream_options",
            "unsupported_parameter",
        )


def parse_request(body: Any, max_chars: int, *, continuing: bool = False) -> Ask:
    """The checked request; `continuing`: it names its session (X-ChatGalaxy-Session), whose stored
    conversation is continued instead of the request's earlier messages."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    body = unwrap_extra_body(body)
    budget = budget_source(body)
    body = read_peer_shapes(body)
    check_keys(body)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > 100:
        raise bad_request("you must provide a model parameter", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or len(messages) > 1000:
        raise bad_request("messages must be a non-empty array of at most 1000 messages.", "messages")
    # A last assistant message: words for the model to continue (Qwen's partial mode) after the
    # question, the user message before them
    prefix = None
    if len(messages) > 1 and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        prefix = _message(messages[-1], len(messages) - 1)["content"]
        messages = messages[:-1]
    # The user messages' files, in order: the earlier turns' (a client sends its whole conversation
    # again, images included) ride with the question, unless the request continues its session
    # (whose questions keep their own: its earlier messages are checked, not used).
    earlier: list[RequestFile] = []
    context = []
    for at, message in enumerate(messages[:-1]):
        before = len(earlier)
        turn = _message(message, at, None if continuing else earlier)
        if turn["role"] == "user" and not turn["content"].strip() and len(earlier) > before:
            turn["content"] = "\n".join(f.name for f in earlier[before:])  # files alone: named, as a question is
        context.append(turn)
    before = len(earlier)
    last = _message(messages[-1], len(messages) - 1, earlier)  # its files numbered on from the earlier ones
    own, earlier = earlier[before:], earlier[:before]
    _own_files(own)
    files, left_out = _with_earlier(own, earlier)
    if last["role"] != "user" or not (last["content"].strip() or own):
        raise bad_request(
            "The last message must be a user message with text, an image or a file,"
            " or an assistant message (words to continue) after one.",
            "messages",
        )
    # Images or files alone: the question's text names them, one a line, as the web app's composer
    # sends such a question (a user message holds text, chat_messages_user_text).
    question = last["content"] if last["content"].strip() else "\n".join(f.name for f in own)
    if len(question) > max_chars:
        raise bad_request(f"The last user message must be at most {max_chars} characters.", "messages")
    if sum(len(m["content"]) for m in context) > MAX_CONTEXT_CHARS:
        raise bad_request(
            f"The messages before the last must hold at most {MAX_CONTEXT_CHARS} characters.",
            "messages",
            "context_length_exceeded",
        )
    stream = body.get("stream", False)
    if not isinstance(stream, bool | None):
        raise bad_request("stream must be a boolean.", "stream")
    options = body.get("stream_options")
    if options is not None and not stream:  # as OpenAI refuses it (param stream_options, code null)
        raise bad_request("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("stream_options must be an object.", "stream_options", "invalid_value")
    include_usage = (options or {}).get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise bad_request(
            "stream_options.include_usage must be true or false.", "stream_options.include_usage", "invalid_value"
        )
    _stream_options(options or {})
    web_search, how = parse_search(body)
    parameters = parse_parameters(body) | how
    parameters |= _continued(prefix, max_chars, parameters)
    # JSON mode needs "json" said in what the model reads, as OpenAI and DashScope both refuse it
    # otherwise: the request's messages, its words to continue among them, or a continued session's
    # question and words (its stored conversation, not the request's earlier messages, is what the
    # model reads). DashScope wants it in a system or user message: when only an assistant's say
    # it, the worker says it after the system prompt (worker/prompt.py).
    said = [question, prefix or ""] if continuing else [question, prefix or "", *(m["content"] for m in context)]
    if parameters.get("response_format") == "json_object" and not any("json" in t.lower() for t in said):
        raise bad_request(JSON_NOT_ASKED, "messages")
    role = model[5:] if model.startswith("role:") else None
    return Ask(
        model,
        None if role is not None else model,
        role,
        question,
        bool(stream),
        include_usage is True,
        tuple(context),
        parameters,
        tuple(files),
        web_search,
        left_out,
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens",
        budget,
    )


def carries_files(body: Any) -> bool:
    """Whether a message of the request holds an image or file part (a look at each part's type)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list) and any(
            isinstance(part, dict) and part.get("type") in ("image_url", "file") for part in content
        ):
            return True
    return False


# A request's files are decoded and checked (and a long body's JSON read, routes.py) in a thread of
# their own, one at a time, the rest waiting their turn: in the loop's default pool (six threads on
# two cores) they held every thread of it, which the API's other thread work shares (a host name's
# lookup), and ran as many GIL-bound threads at once as it had, against the loop's own. Eight
# requests with a 10 MiB GB18030 text each, here: the loop's longest stall 1.2-2.7 s in the default
# pool, 0.56-0.74 s in two threads of their own, 0.14-0.15 s in one, all eight parsed no later
# (3.6-4.5 s against 4.6-7.4 s): the work holds the GIL, so a second thread added no speed.
PARSERS = 1
_T = TypeVar("_T")
_parsers = ThreadPoolExecutor(max_workers=PARSERS, thread_name_prefix="v1-parse")


async def off_loop(work: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    """`work` in a parsing thread, in this task's context (as asyncio.to_thread runs it)."""
    call = functools.partial(contextvars.copy_context().run, work, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_parsers, call)


async def read_request(body: Any, max_chars: int, *, continuing: bool = False) -> Ask:
    """`parse_request`, in a thread when the request carries files: decoding their base64,
    measuring an image with Pillow and telling a legacy-encoded text's encoding (core/textfiles.py)
    took 0.3-0.4 s for one 15 MiB text, and a request may carry ten, with the API's event loop
    answering nobody else meanwhile (until 12-05). A plain question is parsed on the loop: a
    thread's hop would only add to its first token."""
    if carries_files(body):
        return await off_loop(parse_request, body, max_chars, continuing=continuing)
    return parse_request(body, max_chars, continuing=continuing)
