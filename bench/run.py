"""`make bench`: seed catalogs of 1,000 to 100,000 products, load gunicorn with wrk, print and save the figures.

Run with the project's venv from the repository root: `.venv/bin/python bench/run.py --help`.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import report
import stack
from scenarios import Load, read_paths, read_scenario, run_checkout

# Each gunicorn session starts with its own /healthz: the rows of a session are divided by the baseline measured
# minutes apart on the same server, and the two baselines side by side show how noisy the machine was.
SESSIONS = {
    "cache_on": ("healthz", "list_cached", "detail_cached", "checkout"),
    "cache_off": ("healthz_off", "list", "filtered", "search", "detail"),
}
PATHS = {"list_cached": "list", "healthz_off": "healthz"}  # scenarios that GET another's URLs


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=os.environ.get("BENCH_SIZES") or "1000,10000,100000",
        help="catalog sizes, comma-separated (env BENCH_SIZES; default 1000,10000,100000)",
    )
    parser.add_argument(
        "--seconds",
        type=int,
        default=int(os.environ.get("BENCH_SECONDS") or 10),
        help="load per scenario (env BENCH_SECONDS; default 10)",
    )
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads for the reads (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each read (1)")
    parser.add_argument(
        "--scenarios",
        default=",".join(report.SCENARIOS),
        help=f"a subset to run, comma-separated (default all: {','.join(report.SCENARIOS)}); each session "
        "measures its /healthz baseline anyway",
    )
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="keep a bench database already seeded with the size (no seed, no seed time): for profiling rounds",
    )
    parser.add_argument("--drop", action="store_true", help="drop the bench databases at the end")
    parser.add_argument("--out", type=Path, default=stack.ROOT / "bench" / "results", help="where results go")
    return parser.parse_args()


def machine() -> dict:
    def output(*command: str) -> str:
        try:
            done = subprocess.run(command, cwd=stack.ROOT, capture_output=True, text=True, check=False)
        except OSError:
            return ""
        return (done.stdout or done.stderr).strip()

    commit = output("git", "rev-parse", "--short", "HEAD") or "unknown"
    if output("git", "status", "--porcelain", "--untracked-files=no"):
        commit += " + uncommitted changes"
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": stack.postgres_version(),
        "wrk": output("wrk", "-v").splitlines()[0] if shutil.which("wrk") else "missing",
        "commit": commit,
        # Other work on the machine shares the 2 cores: the load average says how quiet the run was.
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


def seeded(database: str, size: int) -> bool:
    if not stack.database_exists(database):
        return False
    try:
        return stack.query(database, "SELECT COUNT(*) FROM products")[0][0] == size
    except Exception:
        return False


def say(size: int, message: str) -> None:
    print(f"[{size:>7,}] {message}", flush=True)


def show(size: int, key: str, run: dict) -> None:
    say(
        size,
        f"{report.SCENARIOS[key]:<38} {run['rps']:>8,.0f} req/s  p50 {run['p50_ms']:7.1f} ms  "
        f"p99 {run['p99_ms']:7.1f} ms  errors {run['errors']}",
    )


def prepare_database(size: int, args: argparse.Namespace, env: dict[str, str]) -> tuple[str, float | None]:
    database = stack.database_name(size)
    log = stack.WORK / "cli.log"
    if args.reuse_db and seeded(database, size):
        say(size, f"reusing database {database}; VACUUM ANALYZE (not timed)")
        if stack.migrations_ready():
            stack.run_cli([str(stack.BIN / "flask"), "db", "upgrade"], env=env, log=log)
        # A checkout round leaves tens of thousands of dead rows (orders, outbox, cart lines, the hot variants'
        # versions); autovacuum may be off or behind, and each round would then start slower than the last.
        stack.vacuum_analyze(database)
        return "reused", None
    say(size, f"creating database {database}")
    stack.recreate_database(database)
    schema = stack.build_schema(env=env, log=log)
    stack.flush_redis()
    say(size, f"seeding {size:,} products (flask seed-demo)")
    seconds = stack.seed(size, env=env, log=log)
    say(size, f"seeded in {seconds:.1f} s; VACUUM ANALYZE (not timed)")
    stack.vacuum_analyze(database)
    return schema, seconds


def run_size(size: int, args: argparse.Namespace, *, keys: stack.Secrets, run_id: str, wanted: set[str]) -> dict:
    database = stack.database_name(size)
    env_on = stack.app_env(database=database, keys=keys)
    env_off = stack.app_env(database=database, keys=keys, cache_off=True)
    schema, seed_seconds = prepare_database(size, args, env_on)
    paths = read_paths(database)
    load = Load(seconds=args.seconds, connections=args.connections, threads=args.threads, warmup=args.warmup)
    wrk_log = stack.WORK / "wrk.log"
    runs: dict[str, dict] = {}
    rss: dict[str, list[float]] = {"cache_on": [], "cache_off": []}
    for mode, env in (("cache_on", env_on), ("cache_off", env_off)):
        baseline, *rest = SESSIONS[mode]
        chosen = [key for key in rest if key in wanted]
        if not chosen and mode == "cache_off":
            continue
        chosen.insert(0, baseline)
        stack.flush_redis()
        say(size, f"gunicorn, {stack.WORKERS} workers, {'CACHE_TYPE=NullCache' if mode == 'cache_off' else 'cache on'}")
        with stack.gunicorn(env, log=stack.WORK / f"gunicorn-{size}-{mode}.log") as server:
            for key in chosen:
                if key == "checkout":
                    runs[key] = run_checkout(
                        server, database=database, env=env, run_id=f"{run_id}-{size}", load=load, log=wrk_log
                    )
                else:
                    name = PATHS.get(key, key)
                    runs[key] = read_scenario(server, paths[name], name=key, load=load, log=wrk_log)
                show(size, key, runs[key])
            rss[mode] = server.worker_rss_mb()
        for key in chosen:
            healthz = runs[baseline]["rps"]
            runs[key]["baseline"] = baseline
            runs[key]["ratio"] = runs[key]["rps"] / healthz if healthz else 0.0
        say(size, f"worker RSS at the end of the load ({mode.replace('_', ' ')}): {rss[mode]} MB")
    return {
        "database": database,
        "schema": schema,
        "seed_seconds": None if seed_seconds is None else round(seed_seconds, 2),
        "worker_rss_mb": {**rss, "max": max(rss["cache_on"] + rss["cache_off"], default=0.0)},
        "scenarios": {key: runs[key] for key in report.SCENARIOS if key in runs},
    }


def main() -> int:
    args = parse_args()
    if not shutil.which("wrk"):
        print("wrk is missing: apt-get install wrk (make bench installs it)", file=sys.stderr)
        return 2
    sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size.strip()]
    wanted = {name.strip() for name in args.scenarios.split(",") if name.strip()}
    unknown = wanted - set(report.SCENARIOS)
    if unknown:
        print(f"unknown scenarios {sorted(unknown)}; choose from {list(report.SCENARIOS)}", file=sys.stderr)
        return 2
    stack.WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    keys = stack.Secrets.generate()
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2)
    results = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "settings": {
            "sizes": sizes,
            "seconds": args.seconds,
            "connections": args.connections,
            "read_threads": args.threads,
            "checkout_threads": args.connections,
            "warmup_seconds": args.warmup,
            "workers": stack.WORKERS,
            "worker_class": "sync",
            "redis": stack.REDIS_URL,
        },
        "sizes": {},
    }
    try:
        for size in sizes:
            results["sizes"][str(size)] = run_size(size, args, keys=keys, run_id=run_id, wanted=wanted)
    finally:
        if args.drop:
            for size in sizes:
                stack.drop_database(stack.database_name(size))
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    results["targets"] = report.evaluate(results)
    report.write(results, args.out)
    report.print_report(results)
    print(f"\nwrote {args.out / 'latest.json'}, latest.md and latency.png in {results['elapsed_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
