"""The storage benchmark's baseline: a plain static file server (Litestar's static files router on
uvicorn, one process, as the gateway) serving one folder.

    python -m bench.storage_baseline <port> <folder>     -> GET /static/<file>
"""

from __future__ import annotations

import sys

import uvicorn
from litestar import Litestar
from litestar.static_files import create_static_files_router


def main() -> None:
    port, folder = int(sys.argv[1]), sys.argv[2]
    app = Litestar(route_handlers=[create_static_files_router(path="/static", directories=[folder])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
