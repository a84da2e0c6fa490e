"""A client's callback receiver for tests: a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records every callback (headers, body) and answers the planned statuses, then 204."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answered: list[int] = []
        self.plan: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.plan.pop(0) if receiver.plan else 204
                    receiver.answered.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kling"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _headers, body in self.received]

    def calls(self) -> list[tuple[dict[str, str], bytes, int]]:
        """(headers, body, the status answered) of every callback received so far."""
        with self.lock:
            return [(h, b, s) for (h, b), s in zip(self.received, self.answered, strict=True)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
