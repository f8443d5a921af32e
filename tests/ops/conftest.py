"""Tools of the operations tests: free ports, app instances in their own processes, and a TCP proxy to cut."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.conftest import ROOT, SERVICES, TEST_ENV, TMP

needs_services = pytest.mark.skipif(not SERVICES, reason="needs the real-services run (NEXUS_TEST_SERVICES=1)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


class AppServer:
    """The app served by gunicorn (gunicorn.conf.py) in a process of its own, on a free port."""

    def __init__(self, name: str, **env: str) -> None:
        self.port = free_port()
        self.log_path = TMP / f"{name}-{self.port}.log"
        settings = {
            **os.environ,
            **TEST_ENV,
            "GUNICORN_BIND": f"127.0.0.1:{self.port}",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "4",
            "GUNICORN_GRACEFUL_TIMEOUT": "2",
            **env,
        }
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
                cwd=ROOT,
                env=settings,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() leaves no worker behind
            )
        wait_until(self._answers, timeout=60, what=f"{name} to serve (log: {self.log_path})")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{self.log_path.read_text()}")
        try:
            return requests.get(self.url("/healthz"), timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(self.url(path), timeout=15, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(self.url(path), timeout=15, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return requests.patch(self.url(path), timeout=15, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # quick shutdown: the test is over
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # any worker the master left behind
        except ProcessLookupError:
            pass


class TcpProxy:
    """Forwards a free local port to `target_port`; `cut()` closes the listener and every connection (an outage
    as the app sees it), `restore()` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        self._stop = threading.Event()
        threading.Thread(target=self._accept, args=(listener, self._stop), daemon=True).start()

    def _accept(self, listener: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            ready, _, _ = select.select([listener], [], [], 0.05)
            if not ready or stop.is_set():
                continue
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    close = cut


@pytest.fixture
def proxy():
    """Make TcpProxy(target_port) objects that are all cut at the end of the test."""
    made: list[TcpProxy] = []

    def make(target_port: int) -> TcpProxy:
        made.append(TcpProxy(target_port))
        return made[-1]

    yield make
    for item in made:
        item.cut()


@pytest.fixture
def app_server():
    """Start AppServer(name, **env) instances, stopped at the end of the test."""
    started: list[AppServer] = []

    def start(name: str, **env: str) -> AppServer:
        started.append(AppServer(name, **env))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def private_redis():
    """A Redis server of this test only (so an outage touches no other run), on a free port."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    wait_until(up, timeout=10, what="the private Redis")
    yield port
    process.kill()
    process.wait()


def login(server: AppServer, email: str, password: str) -> dict:
    response = server.post("/api/auth/jwt/create/", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
