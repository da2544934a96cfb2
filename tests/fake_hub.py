"""A model hub on 127.0.0.1 that serves one local checkpoint directory the way huggingface.co serves a repo:
the revision API, HEAD with the commit/etag/size headers, and GET of each file (optionally throttled so that a
download takes long enough to show progress). Point huggingface_hub at it with HF_ENDPOINT."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repo_id: str, directory: Path, bytes_per_s: float | None = None):
        self.repo_id = repo_id
        self.files = {p.relative_to(directory).as_posix(): p for p in sorted(directory.rglob("*")) if p.is_file()}
        self.bytes_per_s = bytes_per_s
        self.requests: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_HEAD(self):
                hub._answer(self, body=False)

            def do_GET(self):
                hub._answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlsplit(handler.path).path)
        self.requests.append(f"{handler.command} {path}")
        if path in ("", "/"):
            return self._send(handler, 200, b"fake hub", body)
        info_prefix = f"/api/models/{self.repo_id}/revision/"
        if path.startswith(info_prefix):
            info = {"id": self.repo_id, "sha": COMMIT, "siblings": [{"rfilename": name} for name in self.files]}
            return self._send(handler, 200, json.dumps(info).encode(), body, "application/json")
        if path.startswith(f"/api/models/{self.repo_id}/tree/"):
            tree = [
                {
                    "type": "file",
                    "path": name,
                    "size": file.stat().st_size,
                    "oid": hashlib.sha1(name.encode()).hexdigest(),
                }
                for name, file in self.files.items()
            ]
            return self._send(handler, 200, json.dumps(tree).encode(), body, "application/json")
        resolve_prefix = f"/{self.repo_id}/resolve/"
        if path.startswith(resolve_prefix):
            name = path[len(resolve_prefix) :].split("/", 1)[1]
            if name in self.files:
                data = self.files[name].read_bytes()
                headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(data).hexdigest()}"'}
                return self._send(handler, 200, data, body, "application/octet-stream", headers, throttle=True)
        error = {"error": "Repository not found"}
        return self._send(
            handler, 404, json.dumps(error).encode(), body, "application/json", {"X-Error-Code": "RepoNotFound"}
        )

    def _send(self, handler, status, data, body, content_type="text/plain", headers=None, throttle=False):
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.end_headers()
        if not body:
            return
        step = 64 * 1024
        for start in range(0, len(data), step):
            handler.wfile.write(data[start : start + step])
            if throttle and self.bytes_per_s:
                time.sleep(step / self.bytes_per_s)
