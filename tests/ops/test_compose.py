"""docker-compose.yml is valid and runs the whole stack as the README says (no container engine runs here:
Debian's docker-compose checks the file, and these tests read what it resolved)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE = shutil.which("docker-compose")
pytestmark = pytest.mark.skipif(
    COMPOSE is None, reason="docker-compose is not installed (apt-get install docker-compose; .ci/run does it)"
)

REQUIRED = {"SECRET_KEY": "s3cret", "JWT_SECRET_KEY": "jwt-s3cret", "PAYMENT_WEBHOOK_SECRET": "whsec_x"}


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {name: value for name, value in os.environ.items() if name not in REQUIRED}
    return subprocess.run(
        [COMPOSE, "-f", str(ROOT / "docker-compose.yml"), *args],
        cwd=ROOT,
        env={**clean, "COMPOSE_PROJECT_NAME": "nexus", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The configuration docker-compose resolves from the file, with the required secrets set."""
    checked = _compose("config", "-q", env=REQUIRED)
    assert checked.returncode == 0, checked.stderr
    result = _compose("config", env=REQUIRED)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.mark.parametrize("secret", sorted(REQUIRED))
def test_a_missing_secret_stops_compose_with_its_name(secret):
    result = _compose("config", "-q", env={name: value for name, value in REQUIRED.items() if name != secret})
    assert result.returncode != 0
    assert f"set {secret}" in result.stderr


def test_the_stack_has_every_service_with_a_health_check(resolved):
    services = resolved["services"]
    assert set(services) == {"migrate", "web", "worker", "beat", "postgres", "redis", "rabbitmq"}
    for name in ("web", "worker", "postgres", "redis", "rabbitmq"):
        assert services[name]["healthcheck"]["test"], name


def test_web_starts_after_the_migrations_and_healthy_services(resolved):
    web = resolved["services"]["web"]
    assert web["command"] == ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
    assert web["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for dependency in ("postgres", "redis", "rabbitmq"):
        assert web["depends_on"][dependency]["condition"] == "service_healthy"
    assert resolved["services"]["migrate"]["command"] == ["flask", "db", "upgrade"]
    assert resolved["services"]["worker"]["command"][:4] == ["celery", "-A", "wsgi:celery_app", "worker"]
    assert resolved["services"]["beat"]["command"][:4] == ["celery", "-A", "wsgi:celery_app", "beat"]


def test_settings_come_from_the_environment_and_data_lives_in_named_volumes(resolved):
    env = resolved["services"]["web"]["environment"]
    assert (env["SECRET_KEY"], env["JWT_SECRET_KEY"], env["NEXUS_ENV"]) == ("s3cret", "jwt-s3cret", "production")
    assert env["POSTGRES_HOST"] == "postgres" and env["REDIS_URL"].startswith("redis://redis:")
    assert env["CELERY_BROKER_URL"].startswith("amqp://") and "@rabbitmq:5672" in env["CELERY_BROKER_URL"]
    assert env["PROMETHEUS_MULTIPROC_DIR"]
    assert resolved["services"]["worker"]["environment"]["WORKER_METRICS_PORT"] == "9100"
    assert {"postgres-data", "redis-data", "rabbitmq-data", "media"} <= set(resolved["volumes"])
    mounts = {
        name: [str(volume) for volume in service.get("volumes", [])] for name, service in resolved["services"].items()
    }
    assert any("postgres-data" in volume for volume in mounts["postgres"])
    assert any("media" in volume for volume in mounts["web"])


def test_the_image_runs_gunicorn_as_a_user_without_privileges():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert (
        dockerfile.index("COPY requirements.txt") < dockerfile.index("RUN pip install") < dockerfile.index("COPY . .")
    )
    assert "\nUSER nexus\n" in dockerfile
    assert 'CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]' in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", ".env", "instance"} <= set(ignored)
