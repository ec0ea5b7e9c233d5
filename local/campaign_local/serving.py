"""The one HTTP stack of the local engine: the HTTP API, the Lambda endpoint and the
simulated provider are werkzeug WSGI apps (werkzeug comes with moto's server), each served
by ``WsgiServer`` in a daemon thread. werkzeug parses requests, chunked bodies included."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response


class _QuietHandler(WSGIRequestHandler):
    # Small keep-alive answers otherwise stall ~40 ms on Nagle + delayed ACK.
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # no access log: the engine's own log says what happened


class WsgiServer:
    """A threaded werkzeug server (HTTP/1.1, keep-alive) in a daemon thread. It binds with
    SO_REUSEADDR, as every socketserver HTTP server does, so a restart right after Ctrl-C
    binds although connections of the last run are in TIME_WAIT; a second live listener
    on the port still fails to bind (no SO_REUSEPORT)."""

    def __init__(
        self, app: Callable[[Request], Response], host: str, port: int, *, name: str, poll_interval: float = 0.5
    ) -> None:
        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            return app(Request(environ))(environ, start_response)

        # Bound here, not by werkzeug, which turns a port in use into sys.exit(1): the
        # caller gets the OSError. create_server sets SO_REUSEADDR (see above).
        with socket.create_server((host, port)) as listening:
            self._server: BaseWSGIServer = make_server(
                host, port, wsgi, threaded=True, request_handler=_QuietHandler, fd=listening.fileno()
            )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
        )

    @property
    def host(self) -> str:
        return str(self._server.host)

    @property
    def port(self) -> int:
        return int(self._server.port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> WsgiServer:
        self._thread.start()
        return self

    def serving(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
