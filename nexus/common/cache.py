"""Versioned read-through caching that never fails a request.

Each cached resource family (a namespace such as "products") has a version token in the cache; every entry
holds the version it was built under, and a write `bump`s it, so no client sees a stale read after a write's
response. If the cache
is down, reads go straight to the database; if a version token is missing (evicted, Redis restarted), a new
one is made, so nothing written under an old token is ever served again.

A failing cache call marks the cache down for CACHE_RETRY_AFTER_SECONDS, so an outage costs one short
timeout (REDIS_SOCKET_TIMEOUT) per process and period, not one per request. A version bump that could not
reach the cache is remembered in the process and applied first when the cache answers again, before any
cached read is served: a write made during the outage is never hidden by an entry cached before it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from flask import current_app

from nexus.extensions import cache

log = logging.getLogger(__name__)

_STATE = "nexus_cache_state"


class _CacheHealth:
    """Per app and process: when the cache may be tried again, the bumps it still owes, and the process's copies
    of entries it served (see `cached`)."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.pending: set[str] = set()
        self.lock = threading.Lock()
        self.copies: dict[str, tuple[str, bytes]] = {}
        self.copied_bytes = 0
        self.readers = threading.local()  # each thread's connection for version reads (see _read_version)


def _health() -> _CacheHealth:
    health = current_app.extensions.get(_STATE)
    if health is None:
        health = current_app.extensions[_STATE] = _CacheHealth()
    return health


def _mark_down(exc: Exception, doing: str) -> None:
    health = _health()
    if time.monotonic() >= health.down_until:
        log.warning("cache unavailable while %s (%s): bypassing it for a while", doing, exc)
    health.down_until = time.monotonic() + current_app.config.get("CACHE_RETRY_AFTER_SECONDS", 2)


def _available() -> bool:
    """True when the cache may be used now; first re-applies the bumps that failed during an outage."""
    health = _health()
    if time.monotonic() < health.down_until:
        return False
    if health.pending:
        with health.lock:
            for namespace in sorted(health.pending):
                try:
                    _set_new_version(namespace)
                except Exception as exc:
                    _mark_down(exc, f"re-applying the invalidation of {namespace}")
                    return False
                health.pending.discard(namespace)
            log.info("cache back: invalidations missed during the outage re-applied")
    return True


def _version_key(namespace: str) -> str:
    return f"version:{namespace}"


def _set_new_version(namespace: str) -> None:
    """A new version for the namespace: nothing cached under an older one is served again."""
    cache.set(_version_key(namespace), secrets.token_hex(8), timeout=0)


def _new_version(namespace: str) -> str | None:
    """The namespace's version after making one when it has none (evicted, or Redis restarted)."""
    cache.add(_version_key(namespace), secrets.token_hex(8), timeout=0)
    return cache.get(_version_key(namespace))


def invalidate_on_commit(*namespaces: str) -> None:
    """Invalidate the namespaces once the current transaction commits: bumping earlier would let a
    concurrent read cache the old rows under the new version."""
    from nexus.common.outbox import after_commit

    for namespace in namespaces:
        after_commit(_bumper(namespace))


@functools.cache
def _bumper(namespace: str):
    """`bump(namespace)` as one object per namespace, so that asking twice in a transaction bumps once."""
    return functools.partial(bump, namespace)


def bump(*namespaces: str) -> None:
    """Invalidate everything cached under these namespaces, now."""
    health = _health()
    for namespace in namespaces:
        if not _available():
            health.pending.add(namespace)
            continue
        try:
            _set_new_version(namespace)
        except Exception as exc:
            # Owed, not lost: applied before this process serves any cached read again.
            health.pending.add(namespace)
            _mark_down(exc, f"invalidating {namespace}")


def enabled() -> bool:
    """False when the response cache is switched off (CACHE_TYPE=NullCache)."""
    return current_app.config["CACHE_TYPE"] != "NullCache"


def digest(value: Any) -> str:
    """A short stable name for a JSON-able value (dict keys in any order give the same name)."""
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def cache_key(namespace: str, key: Any) -> str:
    """Where `cached` keeps the entry of `key` in the namespace."""
    return f"{namespace}:{digest(key)}"


# The process keeps copies of cached bodies (bytes) up to this many bytes in all, then starts again; a body
# larger than a sixteenth of it is not copied.
LOCAL_COPY_BYTES = 16 * 1024 * 1024


def cached(namespace: str, key: Any, build: Callable[[], Any]) -> Any:
    """`build()`'s result, cached under the namespace's current version.

    One round trip on a hit. An entry holds the version it was built under and only counts while that is still
    the namespace's version. The process keeps a copy of each entry it served: when it has one, it asks the cache
    for the version alone (a few bytes rather than the whole entry), and serves the copy if it is still current.
    Otherwise the version and the entry are read together. Either way the version is read from the shared cache
    on every request, so no process serves an entry after a write's bump.
    """
    if not enabled() or not _available():
        return build()
    entry_key = cache_key(namespace, key)
    health = _health()
    copy = health.copies.get(entry_key)
    try:
        if copy is not None:
            version, entry = _read_version(health, namespace), None
            if version is not None and copy[0] == version:
                return copy[1]
            entry = cache.get(entry_key)  # another process may have built it under the new version
        else:
            version, entry = cache.get_many(_version_key(namespace), entry_key)
        if version is None:
            version = _new_version(namespace)
    except Exception as exc:
        _mark_down(exc, "reading")
        return build()
    if entry is not None and version is not None and entry[0] == version:
        _keep(health, entry_key, entry)
        return entry[1]
    value = build()
    if version is None:
        return value
    try:
        cache.set(entry_key, (version, value))
    except Exception as exc:
        _mark_down(exc, f"storing {namespace}")
        return value
    _keep(health, entry_key, (version, value))
    return value


def _read_version(health: _CacheHealth, namespace: str) -> str | None:
    """The namespace's version in the shared cache, as `cache.get` reads it.

    On Redis, with one GET on a connection of this thread's own rather than through the cache's client: a hit on
    a process copy asks the cache for nothing else, and redis-py's client (its pool, retries, argument checks and
    observability hooks) cost 14 of that GET's 41 µs of CPU, measured (bench/README.md, "Eleventh pass"). The
    connection is made from the client's own settings (address, database, credentials, timeouts) and dropped on
    any error. A dropped connection (Redis restarted, or closed an idle one) is tried once more afresh, as the
    client would retry; any other error, or a second, goes up as from `cache.get`. Elsewhere (the in-process cache
    of the embedded default), `cache.get`."""
    backend = cache.cache
    client = getattr(backend, "_read_client", None)
    if not isinstance(client, redis.Redis) or not isinstance(backend.key_prefix, str):
        return cache.get(_version_key(namespace))
    reader = health.readers
    connection = getattr(reader, "connection", None)
    if connection is None or reader.pid != os.getpid():  # none yet, or made before a fork
        pool = client.connection_pool
        reader.connection, reader.pid = pool.connection_class(**pool.connection_kwargs), os.getpid()
        connection = reader.connection
    key = backend.key_prefix + _version_key(namespace)

    def get() -> str | None:
        connection.send_command("GET", key)
        return backend.serializer.loads(connection.read_response())

    try:
        try:
            return get()
        except redis.ConnectionError:
            connection.disconnect()
            return get()  # once more, on a new connection
    except BaseException:
        connection.disconnect()
        raise


def _keep(health: _CacheHealth, key: str, entry: tuple[str, Any]) -> None:
    """Copy an entry whose value is a body (bytes) in the process, within LOCAL_COPY_BYTES."""
    size = len(entry[1]) if isinstance(entry[1], bytes) else None
    if size is None or size > LOCAL_COPY_BYTES // 16:
        return
    if health.copied_bytes + size > LOCAL_COPY_BYTES:
        health.copies.clear()
        health.copied_bytes = 0
    previous = health.copies.get(key)
    health.copies[key] = entry
    health.copied_bytes += size - (len(previous[1]) if previous else 0)
