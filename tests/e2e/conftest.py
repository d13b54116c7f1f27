"""Fixtures for the end-to-end suite: a real `portico mock-backend`, a real
`portico serve` in front of it, and the real openai-python SDK pointed at Portico.

Both servers are started once per session as subprocesses. Each prints, as the
first line on stdout, the URL it listens on; that line is the readiness signal
(no sleeps, no polling).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator, List

import openai
import pytest

HERE = Path(__file__).resolve().parent
DEFAULT_BIN = (HERE / ".." / ".." / "target" / "debug" / "portico").resolve()

STARTUP_TIMEOUT_S = 60.0
HTTP_TIMEOUT_S = 30.0

MOCK_PREFIX = "portico mock-backend listening on "
SERVE_PREFIX = "portico listening on "

# Log files of the running servers, attached to the report of a failing test.
_SERVER_LOGS: dict = {}


def portico_bin() -> Path:
    path = Path(os.environ.get("PORTICO_BIN") or DEFAULT_BIN)
    if not path.is_file():
        raise RuntimeError(
            f"portico binary not found at {path}: run `cargo build` first or set PORTICO_BIN"
        )
    return path


class Server:
    """A subprocess that announced its URL on the first stdout line."""

    def __init__(self, name: str, args: List[str], prefix: str, log_dir: Path) -> None:
        self.name = name
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(portico_bin()), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        first_line: List[bytes] = []
        got_line = threading.Event()

        def pump() -> None:
            # Read the first line, then keep draining stdout into a file so a
            # chatty server can never block on a full pipe.
            assert self.proc.stdout is not None
            with open(self.stdout_path, "wb") as out:
                line = self.proc.stdout.readline()
                first_line.append(line)
                out.write(line)
                got_line.set()
                for chunk in iter(lambda: self.proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
                    out.write(chunk)
                    out.flush()

        self._pump = threading.Thread(target=pump, name=f"{name}-stdout", daemon=True)
        self._pump.start()

        if not got_line.wait(STARTUP_TIMEOUT_S):
            self.stop()
            raise RuntimeError(
                f"{name} printed no line within {STARTUP_TIMEOUT_S}s\n{self.stderr_tail()}"
            )
        line = first_line[0].decode("utf-8", "replace").strip()
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(
                f"{name}: expected a first stdout line starting with {prefix!r}, got {line!r} "
                f"(exit code {self.proc.poll()})\n{self.stderr_tail()}"
            )
        self.url = line[len(prefix):].strip().rstrip("/")
        _SERVER_LOGS[name] = self.stderr_path

    def stderr_tail(self, lines: int = 60) -> str:
        try:
            self._stderr.flush()
            text = self.stderr_path.read_text("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._pump.join(timeout=5)
        self._stderr.close()
        _SERVER_LOGS.pop(self.name, None)


@pytest.fixture(scope="session")
def server_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("portico-e2e")


@pytest.fixture(scope="session")
def mock_backend(server_dir: Path) -> Iterator[Server]:
    server = Server(
        "mock-backend",
        ["mock-backend", "--listen", "127.0.0.1:0"],
        MOCK_PREFIX,
        server_dir,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def portico(mock_backend: Server, server_dir: Path) -> Iterator[Server]:
    server = Server(
        "portico",
        [
            "serve",
            "--backend",
            f"{mock_backend.url}/v1",
            "--listen",
            "127.0.0.1:0",
            "--db",
            str(server_dir / "portico.db"),
        ],
        SERVE_PREFIX,
        server_dir,
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def portico_url(portico: Server) -> str:
    return portico.url


def make_client(portico_url: str, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
    return openai.OpenAI(base_url=portico_url + "/v1", api_key="test", **kwargs)


@pytest.fixture(scope="session")
def client(portico_url: str) -> openai.OpenAI:
    return make_client(portico_url)


@pytest.fixture(scope="session")
def retrying_client(portico_url: str) -> openai.OpenAI:
    """A client with the SDK's default retries (2), as real users have it."""
    return make_client(portico_url, max_retries=openai.DEFAULT_MAX_RETRIES)


def _http(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        detail = err.read().decode("utf-8", "replace")
        raise AssertionError(f"{method} {url} -> HTTP {err.code}: {detail}") from err
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class Mock:
    """Control of the scripted backend behind Portico."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.scripted = 0

    def script(self, *scripts: dict) -> None:
        """Queue the answers to the next backend requests (FIFO)."""
        _http("POST", f"{self.url}/control/scripts", list(scripts))
        self.scripted += len(scripts)

    def requests(self) -> List[dict]:
        """The chat completion bodies the backend received since the last clear()."""
        answer = _http("GET", f"{self.url}/control/requests")
        assert isinstance(answer, dict) and isinstance(answer.get("requests"), list), answer
        return answer["requests"]

    def clear(self) -> None:
        _http("DELETE", f"{self.url}/control/requests")

    def last_request(self) -> dict:
        received = self.requests()
        assert received, "the backend received no request"
        return received[-1]

    def drain_unused_scripts(self) -> None:
        """Consume scripts a test queued but Portico never used, so they cannot
        leak into the next test: ask the backend directly once per leftover."""
        leftover = self.scripted - len(self.requests())
        for _ in range(max(0, leftover)):
            body = {
                "model": "drain",
                "messages": [{"role": "user", "content": "drain"}],
                "stream": False,
            }
            try:
                request = urllib.request.Request(
                    f"{self.url}/v1/chat/completions",
                    data=json.dumps(body).encode("utf-8"),
                    method="POST",
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:
                    response.read()
            except (urllib.error.URLError, OSError):
                pass  # scripted failures answer with an error status: still consumed
        self.scripted = 0
        self.clear()


@pytest.fixture
def mock(mock_backend: Server, portico: Server) -> Iterator[Mock]:
    helper = Mock(mock_backend.url)
    helper.clear()
    yield helper
    helper.drain_unused_scripts()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for name, path in list(_SERVER_LOGS.items()):
            try:
                tail = "\n".join(Path(path).read_text("utf-8", "replace").splitlines()[-40:])
            except OSError:
                continue
            if tail:
                report.sections.append((f"{name} stderr (last 40 lines)", tail))

