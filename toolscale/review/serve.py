"""`toolscale review serve SITE`: the built site on localhost, appending reviewers' verdicts to SITE/labels.jsonl.

Only a convenience over opening index.html from disk: the page posts each verdict to `labels`, and
this server appends it (validated) to the labels file, which `toolscale review apply` then reads.
"""

from __future__ import annotations

import functools
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from toolscale.data.labels import LabelError, label_line, parse_labels

SERVED_LABELS = "labels.jsonl"  # inside the site directory
MAX_LABEL_BYTES = 64 * 1024


class _Handler(SimpleHTTPRequestHandler):
    labels_lock = threading.Lock()

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/labels":
            self.send_error(HTTPStatus.NOT_FOUND, "only labels are posted here")
            return
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_LABEL_BYTES:
            self.send_error(HTTPStatus.BAD_REQUEST, "a label is one JSON object")
            return
        try:
            labels = parse_labels(self.rfile.read(length).decode("utf-8"), "posted label")
        except (LabelError, UnicodeDecodeError) as error:
            self.send_error(HTTPStatus.BAD_REQUEST, str(error))
            return
        with self.labels_lock, (Path(self.directory) / SERVED_LABELS).open("a", encoding="utf-8") as file:
            file.writelines(label_line(label) for label in labels)
        self.send_response(HTTPStatus.NO_CONTENT)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        del format, args  # quiet: the command prints where it serves


def review_server(site: Path, port: int = 8000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server of `site` (call serve_forever); port 0 picks a free one (see server_address)."""
    handler = functools.partial(_Handler, directory=str(site))
    return ThreadingHTTPServer((host, port), handler)
