"""A fake model provider on loopback for the ``step.ai.infer`` tests: it answers
Anthropic's messages API and OpenAI's chat completions in their formats, echoing what it
was asked, and keeps every request it got. Nothing in the tests calls a real provider."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeLLM:
    requests: list[Request] = field(default_factory=list)

    def start(self) -> FakeLLM:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"null")
                owner.requests.append(Request(self.path, dict(self.headers.items()), body))
                answer = owner.answer(self.path, body)
                data = json.dumps(answer).encode()
                self.send_response(200 if answer is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @staticmethod
    def answer(path: str, body: Any) -> Any:
        said = body["messages"][-1]["content"] if isinstance(body, dict) else ""
        usage_in, usage_out = 7, 3
        if path.endswith("/messages"):
            return {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body.get("model"),
                "content": [{"type": "text", "text": f"echo: {said}"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
            }
        if path.endswith("/chat/completions"):
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": f"echo: {said}"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": usage_in, "completion_tokens": usage_out},
            }
        return None
