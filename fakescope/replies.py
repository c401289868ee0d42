"""What a generation call is answered, for either protocol: the reply (a title for a title
request, else the composed answer, as one JSON object in JSON mode, cut at max_tokens and stop),
then thinking, search and the context cache (fakescope.features) on it: the extras the frames
carry, the thoughts streamed before the answer, the reply with its citations and the input tokens
billed."""

from __future__ import annotations

from typing import Any

from fakescope import answers, features, native, partial, titles, tokens
from fakescope.options import Knobs
from fakescope.stats import Stats
from fakescope.validate import Call


def reply_for(call: Call, knobs: Knobs, stats: Stats) -> tuple[int, answers.Reply]:
    """The call's seed and reply (its input tokens counted in `stats`)."""
    stats.input_tokens += call.input_tokens
    seed = answers.seed_of(call.model, call.contents, call.seed)
    if titles.is_title_request(call.roles, call.contents):
        title = list(tokens.pieces(titles.title_for(call.roles, call.contents)))
        return seed, answers.limit(title, call.max_tokens, call.stop)
    pieces = _answer(seed, knobs, call)
    if call.partial:  # the rest of the answer the question gets, if the prefix begins it
        answer = _answer(answers.seed_of(call.model, call.contents[:-1], call.seed), knobs, call)
        pieces = partial.continuation(answer, call.contents[-1], pieces)
    return seed, answers.limit(pieces, call.max_tokens, call.stop)


def _answer(seed: int, knobs: Knobs, call: Call) -> list[answers.Piece]:
    pieces = answers.compose(seed, knobs.answer_tokens, call.question)
    return answers.as_json(pieces) if call.json_mode else pieces


def with_extras(
    call: Call,
    params: dict[str, Any],
    seed: int,
    knobs: Knobs,
    reply: answers.Reply,
    *,
    cache: features.PrefixCache,
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
        found = features.sources(call.question)
        input_tokens += features.SEARCH_RESULT_TOKENS
        if options.get("enable_citation"):
            cited = features.cite(reply.pieces, len(found), options.get("citation_format"))
            reply = answers.Reply(cited, reply.finish_reason)
    cached = cache.lookup_and_store(call.model, list(zip(call.roles, call.contents, strict=True)))
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
