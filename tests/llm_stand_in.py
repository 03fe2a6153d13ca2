"""A scripted stand-in for the LLM layer's tests: each conversation (named by its first user message) answers
its requests with the next of its steps, so a batch sent concurrently still meets its faults in a known order."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from tests.stand_in_server import JsonHandler


@dataclass
class Seen:
    """A request as the server saw it, recorded when it arrived: its body, when it came, when it was answered."""

    topic: str
    body: dict[str, Any]
    arrived: float
    answered: float | None = None


def completion(
    content: str | None, finish_reason: str = "stop", tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "stand-in",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


class Scripted(JsonHandler):
    """Steps: a string (the answer's content), {"status": N, "headers": {...}}, {"length": text} (cut at max_tokens),
    {"empty": True}, {"echo_key": True} (a 401 quoting the key), {"garbage": True} (a body that is not JSON),
    {"drop": True} (the connection closed mid-answer), {"sleep": seconds, "then": step}, {"tools": [...]} (tool calls).
    A conversation out of steps answers `after`."""

    steps: ClassVar[dict[str, list[Any]]] = {}
    after: ClassVar[Any] = '{"ok": true}'
    seen: ClassVar[list[Seen]] = []
    in_flight: ClassVar[int] = 0
    most_in_flight: ClassVar[int] = 0
    lock = threading.Lock()

    @classmethod
    def script(cls, steps: dict[str, list[Any]], after: Any = '{"ok": true}') -> None:
        cls.steps = {topic: list(topic_steps) for topic, topic_steps in steps.items()}
        cls.after = after
        cls.seen = []
        cls.in_flight = cls.most_in_flight = 0

    def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches POST to
        arrived = time.monotonic()
        body = self.read_json()
        topic = next(message["content"] for message in body["messages"] if message["role"] == "user")
        seen = Seen(topic, body, arrived)
        with self.lock:
            self.seen.append(seen)
            type(self).in_flight += 1
            type(self).most_in_flight = max(self.most_in_flight, self.in_flight)
            queue = self.steps.get(topic, [])
            step = queue.pop(0) if queue else self.after
        try:
            self.answer(step)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout under test) and hung up
        finally:
            with self.lock:
                type(self).in_flight -= 1
                seen.answered = time.monotonic()

    def answer(self, step: Any) -> None:
        if isinstance(step, str):
            self.reply_json(200, completion(step))
        elif "sleep" in step:
            time.sleep(step["sleep"])
            self.answer(step["then"])
        elif "echo_key" in step:  # a careless server that quotes the request's headers in its error
            self.reply_json(401, {"error": {"message": f"bad credentials: {self.headers['Authorization']}"}})
        elif "status" in step:
            self.reply_json(step["status"], {"error": {"message": f"status {step['status']}"}}, step.get("headers"))
        elif "length" in step:
            self.reply_json(200, completion(step["length"], finish_reason="length"))
        elif "empty" in step:
            self.reply_json(200, completion(None))
        elif "tools" in step:
            self.reply_json(200, completion(None, finish_reason="tool_calls", tool_calls=step["tools"]))
        elif "garbage" in step:
            self.raw(b"{not json", len(b"{not json"))
        elif "drop" in step:
            data = json.dumps(completion('{"ok": true}')).encode()
            self.raw(data[: len(data) // 2], len(data))  # promises the whole body, sends half, hangs up
            self.close_connection = True
        else:
            raise AssertionError(f"unknown step {step!r}")

    def raw(self, data: bytes, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(data)
