"""gunicorn settings: worker count from the CPUs, bounded timeouts, JSON logs with the request id, preload."""

import json
import multiprocessing
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from gunicorn.glogging import Logger


def _setting(name: str, default):
    value = os.environ.get(name)
    return type(default)(value) if value not in (None, "") else default


bind = _setting("GUNICORN_BIND", "0.0.0.0:8000")
workers = _setting("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
threads = _setting("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"
# A request that runs longer than this is killed (the worker is replaced): no request should come near it.
timeout = _setting("GUNICORN_TIMEOUT", 30)
graceful_timeout = _setting("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = _setting("GUNICORN_KEEPALIVE", 5)
# Import the app once in the master; workers fork with it loaded (less memory, faster start).
preload_app = _setting("GUNICORN_PRELOAD", "1") == "1"
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = _setting("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = 500
# Heartbeat files in memory: a container's overlay disk can stall and get healthy workers killed.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Proxies whose X-Forwarded-Proto is believed (the load balancer's address in production).
forwarded_allow_ips = _setting("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket (one per user by default) would clash between instances on one host; off unless asked.
control_socket_disable = _setting("GUNICORN_CONTROL_SOCKET", "0") != "1"
accesslog = _setting("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"


class JsonLogger(Logger):
    """Access lines and gunicorn's own messages as JSON objects, one per line, like the app's logs."""

    def setup(self, cfg):
        from nexus.common.observability import JsonFormatter  # here: after the metrics directory is ready

        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        entry = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": f"{atoms['m']} {atoms['U']} {atoms['s']}",
            "request_id": atoms.get("{x-request-id}o") or None,
            "remote": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"],
            "status": resp.status_code,
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": atoms["a"],
        }
        try:
            self.access_log.info(json.dumps(entry))
        except Exception:
            self.exception("could not write an access log line")


logger_class = JsonLogger


def _fresh_metrics_directory() -> None:
    # Prometheus multiprocess mode: every worker writes its metrics here. Values of an earlier run must go, and
    # the directory must exist before the app (preloaded) creates its first metric.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)


_fresh_metrics_directory()


def post_fork(server, worker):
    # Connections opened in the master must not be shared with forked workers.
    from nexus.extensions import db

    app = getattr(server.app, "callable", None) or server.app.wsgi()
    with app.app_context():
        db.engine.dispose(close=False)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
