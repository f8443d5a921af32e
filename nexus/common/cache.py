"""Versioned read-through caching that never fails a request.

Each cached resource family (a namespace such as "products") has a version token in the cache; every key
includes it, and a write `bump`s it, so no client sees a stale read after a write's response. If the cache
is down, reads go straight to the database; if a version token is missing (evicted, Redis restarted), a new
one is made, so nothing written under an old token is ever served again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from nexus.extensions import cache

log = logging.getLogger(__name__)


def _version(namespace: str) -> str | None:
    key = f"version:{namespace}"
    try:
        version = cache.get(key)
        if version is None:
            cache.add(key, secrets.token_hex(8), timeout=0)
            version = cache.get(key)
        return version
    except Exception as exc:
        log.warning("cache unavailable (%s); reading from the database", exc)
        return None


def invalidate_on_commit(*namespaces: str) -> None:
    """Invalidate the namespaces once the current transaction commits: bumping earlier would let a
    concurrent read cache the old rows under the new version."""
    from nexus.common.outbox import after_commit

    for namespace in namespaces:
        after_commit(functools.partial(bump, namespace))


def bump(*namespaces: str) -> None:
    """Invalidate everything cached under these namespaces, now."""
    for namespace in namespaces:
        try:
            cache.set(f"version:{namespace}", secrets.token_hex(8), timeout=0)
        except Exception as exc:
            # The cache cannot serve an old version while it is down; a missing token is replaced on recovery.
            log.warning("cache unavailable while invalidating %s: %s", namespace, exc)
            try:
                cache.delete(f"version:{namespace}")
            except Exception:
                log.error("could not invalidate %s: entries may outlive this write until their timeout", namespace)


def cached(namespace: str, key: Any, build: Callable[[], Any], *, timeout: int | None = None) -> Any:
    """`build()`'s JSON-serialisable result, cached under the namespace's current version."""
    version = _version(namespace)
    if version is None:
        return build()
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    full_key = f"{namespace}:{version}:{digest}"
    try:
        hit = cache.get(full_key)
    except Exception:
        hit = None
    if hit is not None:
        return hit
    value = build()
    try:
        cache.set(full_key, value, timeout=timeout)
    except Exception as exc:
        log.warning("cache unavailable (%s); not storing %s", exc, namespace)
    return value
