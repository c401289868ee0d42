"""A gateway with the product's Auth settings (supabase/config.toml: e-mail confirmations and rate
limits on, none of the test suite's overrides) on the session's stack database, and its mailbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import PRODUCT_AUTH_ENV, LocalStack, launch_stack
from tests.mailbox import Mailbox


@pytest.fixture(scope="session")
def product_stack(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = launch_stack(stack.dsn, tmp_path_factory, **PRODUCT_AUTH_ENV)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def mailbox(product_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailbox]:
    with Mailbox.start(product_stack, tmp_path_factory.mktemp("mailbox")) as box:
        yield box
