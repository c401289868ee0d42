"""Token counts are the bundled Qwen tokenizer's, whichever path `fakescope.tokens` (the fake's
usage) and `worker.llm.tokens` (the worker's prompt budget) take."""

from __future__ import annotations

from types import ModuleType

import pytest
from dashscope.tokenizers.qwen_tokenizer import SPECIAL_TOKENS_SET

from fakescope import tokens
from worker.llm import tokens as worker_tokens

TEXTS = [
    "",
    "burst 1a2b3c4d question 17",
    " The real model would answer your question here.",
    "这是离线模型的回答，用于本地开发和测试。祝你使用愉快！",
    "e\u0301 and \u00e9 normalise alike; ≮ too",
    "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",  # special tokens count as one token each
    "<| not a special token |>, nor is <|extra|",
    "x" * 3 + "\n\n```python\nprint('hi')\n```\n" * 50,
]


@pytest.mark.parametrize("module", [tokens, worker_tokens], ids=["fakescope", "worker"])
@pytest.mark.parametrize("text", TEXTS)
def test_counts_and_ids_are_the_tokenizers(module: ModuleType, text: str) -> None:
    reference = list(tokens.tokenizer().encode(text))  # the SDK's defaults: every special token recognised
    assert module.encode(text) == reference
    assert module.count(text) == len(reference)


def test_every_special_token_starts_as_the_fast_path_assumes() -> None:
    assert len(SPECIAL_TOKENS_SET) > 200
    assert all(s.startswith("<|") for s in SPECIAL_TOKENS_SET)
