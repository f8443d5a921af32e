# Nexus API image: gunicorn serving wsgi:app; the same image runs the Celery worker and beat.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=wsgi:app \
    NEXUS_ENV=production

WORKDIR /app

# Dependencies first, in their own layer: rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The code belongs to root and is read-only for the app; only instance/ (media uploads) is writable.
RUN useradd --create-home --uid 10001 nexus && mkdir -p /app/instance/media && chown -R nexus:nexus /app/instance
COPY . .

USER nexus
# 8000: the API (gunicorn); 9100: a worker's metrics (WORKER_METRICS_PORT).
EXPOSE 8000 9100
CMD ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
