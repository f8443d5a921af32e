"""The load: wrk runs of each scenario, and the checkout's customers, hot stock and oversell check."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from stack import BIN, ROOT, WORK, Server, celery_worker, http, query, queued_messages, run_cli

LUA = ROOT / "bench" / "lua"
LIST = "/api/store/products/"

# The filtered list: a category with a subtree + a price range + a size (all four are demo categories with children).
FILTERS = [
    {"category": "women-tops", "min_price": "20", "max_price": "60", "size": "M"},
    {"category": "men-bottoms", "min_price": "30", "max_price": "90", "size": "L"},
    {"category": "women-outerwear", "min_price": "80", "max_price": "200", "size": "S"},
    {"category": "women", "min_price": "25", "max_price": "75", "size": "XL"},
]
POPULAR = 100
SEARCHES = ["cotton", "navy jacket", "linen", "wool sweater", "denim", "black dress", "organic", "slim jeans"]

CUSTOMERS_PER_CONNECTION = 4
SCARCE_VARIANTS, SCARCE_STOCK = 10, 3  # sold first, each raced for by every connection at once
PLENTY_VARIANTS = 10
UNITS_PER_SECOND = 400  # stock of the other hot variants, for the run to sell units all along at ~0.1x /healthz


@dataclass(frozen=True)
class Load:
    seconds: int
    connections: int
    threads: int
    warmup: int


def write_lines(name: str, lines: list[str]) -> Path:
    path = WORK / name
    path.write_text("\n".join(lines) + "\n")
    return path


def read_paths(database: str, sample: int = 2000) -> dict[str, list[str]]:
    """The URLs of each read scenario: fixed ones, and a shuffled sample of the catalog's active products."""
    slugs = [
        row[0]
        for row in query(
            database, "SELECT slug FROM products WHERE status = 'active' ORDER BY md5(slug) LIMIT %s", (sample,)
        )
    ]
    present = {row[0] for row in query(database, "SELECT slug FROM categories")}
    missing = sorted({spec["category"] for spec in FILTERS} - present)
    if missing:
        raise RuntimeError(f"the demo catalog has no categor{'y' if len(missing) == 1 else 'ies'} {missing}")
    return {
        "healthz": ["/healthz"],
        "list": [LIST],
        "filtered": [f"{LIST}?{urlencode(spec)}" for spec in FILTERS],
        "search": [f"{LIST}?{urlencode({'search': term})}" for term in SEARCHES],
        "detail": [f"{LIST}{slug}/" for slug in slugs],
        # With the cache on, the popular few: a sample of thousands would be mostly first-time misses in 10 s.
        "detail_cached": [f"{LIST}{slug}/" for slug in slugs[:POPULAR]],
    }


def wrk(server: Server, script: str, args: list[str], *, load: Load, seconds: int, threads: int, log: Path) -> dict:
    """One wrk run; returns the figures the script's done() printed as JSON."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{load.connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(LUA / script),
        server.url,
        "--",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n{done.stdout}{done.stderr}")
    if done.returncode:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise RuntimeError(f"wrk printed no BENCH_JSON line; see {log}")


def read_scenario(server: Server, paths: list[str], *, name: str, load: Load, log: Path) -> dict:
    """GET `paths` in turn at the set concurrency, after a short warm-up whose figures are dropped."""
    path_file = write_lines(f"paths-{name}.txt", paths)
    if load.warmup:
        wrk(server, "read.lua", [str(path_file)], load=load, seconds=load.warmup, threads=load.threads, log=log)
    figures = wrk(server, "read.lua", [str(path_file)], load=load, seconds=load.seconds, threads=load.threads, log=log)
    figures["ok_requests"] = figures["requests"] - figures["status_errors"]
    figures["errors"] = figures["status_errors"] + figures["socket_errors"] + figures["timeouts"]
    figures["rps"] = figures["ok_requests"] / figures["duration_s"]
    figures["paths"] = paths if len(paths) <= 10 else f"{len(paths)} product slugs, in turn"
    return figures


# --- checkout -------------------------------------------------------------------------------------------------------


def _admin_token(server: Server, *, env: dict[str, str], run_id: str, log: Path) -> str:
    email, password = f"bench-admin-{run_id}@example.com", f"Zq7-{secrets.token_urlsafe(18)}"
    run_cli([str(BIN / "flask"), "create-superuser", "--email", email, "--password", password], env=env, log=log)
    status, body = http("POST", f"{server.url}/api/auth/jwt/create/", {"email": email, "password": password})
    if status != 200:
        raise RuntimeError(f"admin sign-in answered {status}: {body}")
    return body["access"]


def _register(server: Server, run_id: str, number: int) -> str:
    password = f"Zq7-{secrets.token_urlsafe(18)}"
    body = {
        "email": f"bench-{run_id}-{number}@example.com",
        "password": password,
        "password2": password,
        "first_name": "Bench",
        "last_name": f"Customer {number}",
    }
    status, answer = http("POST", f"{server.url}/api/auth/registration/", body)
    if status != 201:
        raise RuntimeError(f"registration answered {status}: {answer}")
    return answer["access"]


def prepare_checkout(server: Server, *, database: str, env: dict[str, str], run_id: str, load: Load, log: Path):
    """Customers registered through the API, and hot variants given limited stock by an admin through the API."""
    token = _admin_token(server, env=env, run_id=run_id, log=log)
    hot = query(
        database,
        """SELECT v.id, p.slug FROM product_variants v JOIN products p ON p.id = v.product_id
           WHERE p.status = 'active' AND v.is_active ORDER BY md5(v.sku) LIMIT %s""",
        (SCARCE_VARIANTS + PLENTY_VARIANTS,),
    )
    plenty = max(SCARCE_STOCK, UNITS_PER_SECOND * load.seconds // PLENTY_VARIANTS)
    for index, (variant_id, slug) in enumerate(hot):
        stock = SCARCE_STOCK if index < SCARCE_VARIANTS else plenty
        url = f"{server.url}{LIST}{slug}/variants/{variant_id}/"
        status, body = http("PATCH", url, {"stock": stock}, token)
        if status != 200:
            raise RuntimeError(f"setting the stock of variant {variant_id} answered {status}: {body}")
    count = CUSTOMERS_PER_CONNECTION * load.connections
    with ThreadPoolExecutor(max_workers=4) as pool:
        tokens = list(pool.map(lambda number: _register(server, run_id, number), range(count)))
    variant_ids = [variant_id for variant_id, _ in hot]
    initial = dict(query(database, "SELECT id, stock FROM product_variants WHERE id = ANY(%s)", (variant_ids,)))
    return tokens, variant_ids, initial


def run_checkout(server: Server, *, database: str, env: dict[str, str], run_id: str, load: Load, log: Path) -> dict:
    """Many customers buy the hot variants at once; then the database must show no unit oversold, lost or doubled.

    A Celery worker runs alongside, as in production: order e-mails and low-stock alerts run there, on the same
    cores, and the run waits for it to finish them (`worker_drain_s`: how long after the load it took)."""
    if "CELERY_BROKER_URL" not in env:  # BENCH_BROKER_URL= : tasks run eagerly in the requests
        figures = _checkout(server, database=database, env=env, run_id=run_id, load=load, log=log)
        figures.pop("ended")
        return figures
    with celery_worker(env, log=WORK / "worker.log"):
        figures = _checkout(server, database=database, env=env, run_id=run_id, load=load, log=log)
        queue = env["CELERY_TASK_DEFAULT_QUEUE"]
        figures.update(wait_for_worker(database, pattern=f"bench-{run_id}-%", queue=queue, since=figures.pop("ended")))
    return figures


def _checkout(server: Server, *, database: str, env: dict[str, str], run_id: str, load: Load, log: Path) -> dict:
    tokens, variant_ids, initial = prepare_checkout(
        server, database=database, env=env, run_id=run_id, load=load, log=log
    )
    token_file = write_lines("checkout-tokens.txt", tokens)
    variant_file = write_lines("checkout-variants.txt", [str(variant_id) for variant_id in variant_ids])
    # One wrk thread per connection: the script keeps each connection's customer and step in its thread.
    args = [str(token_file), str(variant_file), str(load.connections)]
    figures = wrk(server, "checkout.lua", args, load=load, seconds=load.seconds, threads=load.connections, log=log)
    figures["ended"] = time.monotonic()
    figures.update(verify_checkout(database, run_id=run_id, initial=initial))
    ok = figures["added"] + figures["orders"] + figures["clears"]
    figures["ok_requests"] = ok
    figures["errors"] = figures["errors_5xx"] + figures["other_4xx"] + figures["socket_errors"] + figures["timeouts"]
    # Requests/s counts the 2xx answers only: a fast "sold out" 409 must not make checkout look quicker.
    figures["rps"] = ok / figures["duration_s"]
    figures["orders_per_s"] = figures["orders"] / figures["duration_s"]
    return figures


def _orders_of(database: str, pattern: str) -> int:
    sql = "SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email LIKE %s"
    return query(database, sql, (pattern,))[0][0]


def wait_for_last_orders(database: str, pattern: str, *, quiet: float = 1.5, timeout: float = 35) -> None:
    """wrk stops with requests still in the server: wait until no new order has appeared for `quiet` seconds."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = _orders_of(database, pattern)
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.25)


def verify_checkout(database: str, *, run_id: str, initial: dict[int, int]) -> dict:
    """Stock never below zero, units sold never above the stock there was, and every unit accounted for.

    One statement, so stock, order lines and counts come from one snapshot of the database."""
    pattern = f"bench-{run_id}-%"
    wait_for_last_orders(database, pattern)
    rows = query(
        database,
        """WITH sold AS (
               SELECT oi.variant_id, SUM(oi.quantity) AS units FROM order_items oi
               JOIN orders o ON o.id = oi.order_id JOIN users u ON u.id = o.user_id
               WHERE u.email LIKE %(pattern)s AND o.status <> 'cancelled' AND oi.variant_id = ANY(%(ids)s)
               GROUP BY oi.variant_id)
           SELECT v.id, v.stock, COALESCE(sold.units, 0),
                  (SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE u.email LIKE %(pattern)s),
                  (SELECT COUNT(*) FROM product_variants WHERE stock < 0)
           FROM product_variants v LEFT JOIN sold ON sold.variant_id = v.id
           WHERE v.id = ANY(%(ids)s)""",
        {"pattern": pattern, "ids": list(initial)},
    )
    final = {row[0]: row[1] for row in rows}
    sold = {row[0]: int(row[2]) for row in rows}
    return {
        "initial_stock": sum(initial.values()),
        "units_sold": sum(sold.values()),
        "stock_left": sum(final.values()),
        "variants_sold_out": sum(1 for i in initial if final[i] == 0),
        "oversold_units": sum(max(0, sold[i] - initial[i]) for i in initial),
        "negative_stock_variants": rows[0][4],
        # Stock that left without an order line, or an order line that took no stock: both must be zero.
        "unaccounted_units": sum(abs(initial[i] - final[i] - sold[i]) for i in initial),
        "orders_in_db": rows[0][3],
    }


def wait_for_worker(database: str, *, pattern: str, queue: str, since: float, timeout: float = 120) -> dict:
    """After the load: wait until the worker has sent every order's confirmation (its notification row exists),
    the outbox holds nothing unpublished and the queue is empty; how long after the load (`since`) that was,
    and what is left."""
    started = since
    unsent = """SELECT COUNT(*) FROM order_status_history h JOIN orders o ON o.id = h.order_id
                JOIN users u ON u.id = o.user_id
                WHERE u.email LIKE %s AND NOT EXISTS (
                    SELECT 1 FROM sent_notifications s WHERE s.key = 'order-status:' || h.id)"""
    while True:
        left = {
            "unsent_notifications": query(database, unsent, (pattern,))[0][0],
            "outbox_rows": query(database, "SELECT COUNT(*) FROM outbox_messages")[0][0],
            "queued_tasks": queued_messages(queue),
        }
        if not any(left.values()) or time.monotonic() - started > timeout:
            break
        time.sleep(0.25)
    return {"worker_drain_s": round(time.monotonic() - started, 2), **left}
