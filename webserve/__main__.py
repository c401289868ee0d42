"""`python -m webserve [--host H] [--port P] [--dist DIR]`: serve the built SPA until SIGTERM/SIGINT.

Defaults come from core.settings (WEB_HOST, WEB_PORT, WEB_DIST_DIR). Exits with an error when the
build is missing, so a supervisor notices at start-up rather than on the first page view.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from core.logs import configure
from core.settings import get_settings
from webserve.files import DistFiles
from webserve.runtime import RuntimeConfig
from webserve.server import make_server

log = logging.getLogger("webserve")


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="webserve", description="Serve the ChatGalaxy SPA (web/dist).")
    parser.add_argument("--host", default=settings.web.host)
    parser.add_argument("--port", type=int, default=settings.web.port)
    parser.add_argument("--dist", default=settings.web.dist_dir, help="the vite build output")
    args = parser.parse_args(argv)
    configure("webserve")

    dist = Path(args.dist)
    if not (dist / "index.html").is_file():
        log.error("the SPA is not built", extra={"dist": str(dist.resolve()), "hint": "make web-build"})
        return 2
    runtime = RuntimeConfig.from_settings(settings)
    server = make_server(args.host, args.port, DistFiles(dist), runtime)

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return, so it must run on another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url = f"http://{args.host}:{server.server_port}"
    log.info("serving", extra={"url": url, "supabase_url": runtime.supabase_url, "api_url": runtime.api_url})
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
