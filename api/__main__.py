"""`python -m api [--host H] [--port P]`: serve the API with uvicorn (127.0.0.1:8000 by default)."""

from __future__ import annotations

import argparse
import logging
import sys

from core import collector, logs
from core.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    import uvicorn  # noqa: PLC0415 - only serving needs it

    from api.app import create_app  # noqa: PLC0415

    settings = get_settings()
    parser = argparse.ArgumentParser(prog="api", description=__doc__)
    parser.add_argument("--host", default=settings.api.host)
    parser.add_argument("--port", type=int, default=settings.api.port)
    args = parser.parse_args(argv)
    logs.configure("chatgalaxy-api")
    # One INFO line per upstream call, URL and query included, is noise at best: our access log
    # already says what each request did.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    app = create_app(settings)
    collector.settle()  # core/collector.py
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        # X-Forwarded-For is the API's to judge (API_TRUST_FORWARDED_FOR, api/security.py): uvicorn's
        # own rewriting would believe it from any local peer, and costs a pass over every request.
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
