"""Test doubles of the services and providers Parla calls, as real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # the path with its query, as sent
    headers: Message
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def query(self) -> dict[str, str]:
        return _single_values(urlsplit(self.target).query)

    def form(self) -> dict[str, str]:
        return _single_values(self.body.decode())

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int
    body: object = None  # sent as JSON; None: no body
    location: str | None = None


def _single_values(encoded: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(encoded).items()}


class LocalHttpServer:
    """Serves in a thread while entered (``with``) on ``port`` (0: a free one); a subclass answers each request
    in ``respond``."""

    def __init__(self, port: int = 0) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                reply = owner.respond(Request(self.command, self.path, self.headers, body))
                data = json.dumps(reply.body).encode() if reply.body is not None else b""
                self.send_response(reply.status)
                if reply.location:
                    self.send_header("Location", reply.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def respond(self, request: Request) -> Reply:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
