"""Fixtures for the real-backend suite: a real llama-cpp-python server on the
gemma-3-270m model (made by scripts/real-backend/setup.sh), a recording relay
in front of it (so tests see exactly what reached the server), a real
`portico serve` in front of the relay, and the real OpenAI SDKs pointed at
Portico. Everything listens on free loopback ports and stops at the end.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List

import openai
import pytest

MODEL = "gemma3-270m"
STARTUP_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, what: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"{what} not ready after {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


class Relay(http.server.ThreadingHTTPServer):
    """Passes every request to the server unchanged and keeps the JSON bodies
    of chat and embeddings requests, in order."""

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.received: List[Dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), RelayHandler)

    def chat_requests(self) -> List[Dict[str, Any]]:
        with self.lock:
            return [body for path, body in self.received if path.endswith("/chat/completions")]

    def forget(self) -> None:
        with self.lock:
            self.received.clear()


class RelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Relay

    def log_message(self, *_: Any) -> None:  # quiet
        pass

    def relay(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if body and self.path.startswith("/v1/"):
            try:
                parsed = json.loads(body)
                with self.server.lock:
                    self.server.received.append((self.path, parsed))
            except ValueError:
                pass
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=600)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization", "accept")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() in ("content-type", "server"):
                self.send_header(name, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        while True:
            piece = answer.read1(65536)
            if not piece:
                break
            self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        upstream.close()

    do_GET = relay
    do_POST = relay


@pytest.fixture(scope="session")
def work_dir() -> Path:
    with tempfile.TemporaryDirectory(prefix="portico-real-backend-") as directory:
        yield Path(directory)


@pytest.fixture(scope="session")
def llama(work_dir: Path) -> str:
    python = os.environ["LLAMA_PYTHON"]
    model = os.environ["LLAMA_MODEL"]
    port = free_port()
    log = work_dir / "llama.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [python, "-m", "llama_cpp.server", "--model", model, "--model_alias", MODEL,
             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "2", "--n_ctx", "4096",
             "--chat_format", "gemma"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/v1/models", process, "llama-cpp-python", log)
        yield base
    finally:
        stop(process)


@pytest.fixture(scope="session")
def relay(llama: str) -> Relay:
    server = Relay(int(llama.rsplit(":", 1)[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture(scope="session")
def portico(relay: Relay, work_dir: Path) -> str:
    log = work_dir / "portico.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [os.environ["PORTICO_BIN"], "serve", "--no-autodetect",
             "--backend", f"http://127.0.0.1:{relay.server_address[1]}/v1",
             "--listen", "127.0.0.1:0", "--db", str(work_dir / "portico.db")],
            stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
        )
    line = process.stdout.readline().decode()
    prefix = "portico listening on "
    if not line.startswith(prefix):
        process.kill()
        raise RuntimeError(f"portico did not start: {line!r}\n{log.read_text()[-4000:]}")
    base = line[len(prefix):].strip()
    threading.Thread(target=lambda: process.stdout.read(), daemon=True).start()
    try:
        wait_for(f"{base}/readyz", process, "portico", log)
        yield base
    finally:
        stop(process)
        print(f"--- portico log (tail) ---\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def client(portico: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{portico}/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture(scope="session")
def async_client(portico: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{portico}/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture(scope="session")
def direct(llama: str) -> openai.OpenAI:
    """The same SDK pointed at llama-cpp-python itself, to compare with."""
    return openai.OpenAI(base_url=f"{llama}/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture()
def tapped(relay: Relay) -> Relay:
    relay.forget()
    return relay
