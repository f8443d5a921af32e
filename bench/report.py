"""The figures out: one table on the terminal, the targets of issue 7, latest.json, a Markdown copy and a chart."""

from __future__ import annotations

import json
from pathlib import Path

SCENARIOS = {
    "healthz": "GET /healthz, cache-on server",
    "healthz_off": "GET /healthz, cache-off server",
    "list_cached": "product list, cache on",
    "list": "product list, cache off",
    "filtered": "list category+price+size, cache off",
    "search": "list search=, cache off",
    "detail_cached": "product detail, cache on",
    "detail": "product detail, cache off",
    "checkout": "checkout add_item+order",
}
RATIO_TARGETS = {"list_cached": 0.70, "list": 0.20, "filtered": 0.10, "search": 0.10, "detail": 0.30, "checkout": 0.10}
GROWTH_SCENARIOS = ("list_cached", "list", "filtered", "search")
GROWTH_LIMIT = 1.5
RSS_LIMIT_MB = 150
SEED_SIZE, SEED_LIMIT_S = 100_000, 120
TARGET_SIZE = 100_000

HEADER = ("scenario", "products", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "x healthz")


def _rows(results: dict) -> list[tuple[str, ...]]:
    rows = []
    for key, label in SCENARIOS.items():
        for size, figures in results["sizes"].items():
            run = figures["scenarios"].get(key)
            if run is None:
                continue
            rows.append(
                (
                    label,
                    f"{int(size):,}",
                    f"{run['rps']:,.0f}",
                    f"{run['p50_ms']:.1f}",
                    f"{run['p95_ms']:.1f}",
                    f"{run['p99_ms']:.1f}",
                    str(run["errors"]),
                    f"{run['ratio']:.3f}",
                )
            )
    return rows


def _extras(results: dict) -> list[str]:
    lines = []
    for size, figures in results["sizes"].items():
        seed = f"{figures['seed_seconds']:.1f} s" if figures.get("seed_seconds") is not None else "reused"
        rss = figures["worker_rss_mb"]
        line = f"{int(size):,} products: seed {seed}; worker RSS at the end of the load {rss['max']:.0f} MB"
        lines.append(line + f" (cache on {rss['cache_on']}, cache off {rss['cache_off']})")
        checkout = figures["scenarios"].get("checkout")
        if checkout:
            lines.append(
                f"    checkout: {checkout['orders']} orders ({checkout['orders_per_s']:.0f}/s), "
                f"{checkout['units_sold']} of {checkout['initial_stock']} hot units sold, "
                f"{checkout['variants_sold_out']} hot variants sold out, sold-out answers "
                f"{checkout['add_sold_out']} (add) + {checkout['order_conflicts']} (order); "
                f"oversold {checkout['oversold_units']}, unaccounted {checkout['unaccounted_units']}, "
                f"negative stock {checkout['negative_stock_variants']}, 5xx {checkout['errors_5xx']}"
            )
    return lines


def evaluate(results: dict) -> list[dict]:
    """Each target of the issue, with the measured value and whether it is met."""
    sizes = sorted(int(size) for size in results["sizes"])
    if not sizes:
        return []
    at = TARGET_SIZE if TARGET_SIZE in sizes else sizes[-1]
    note = "" if at == TARGET_SIZE else f" (measured at {at:,}, not {TARGET_SIZE:,})"
    big = results["sizes"][str(at)]["scenarios"]
    targets = []

    def add(name: str, value, limit: str, met: bool | None) -> None:
        targets.append({"target": name + note, "value": value, "limit": limit, "met": met})

    for key, limit in RATIO_TARGETS.items():
        if key in big:
            add(f"{SCENARIOS[key]} / healthz", round(big[key]["ratio"], 3), f">= {limit}", big[key]["ratio"] >= limit)
    small = results["sizes"][str(sizes[0])]["scenarios"]
    for key in GROWTH_SCENARIOS:
        if key in big and key in small and at != sizes[0]:
            growth = big[key]["p50_ms"] / small[key]["p50_ms"] if small[key]["p50_ms"] else float("inf")
            add(
                f"{SCENARIOS[key]}: p50 at {at:,} / at {sizes[0]:,}",
                round(growth, 2),
                f"<= {GROWTH_LIMIT}",
                growth <= GROWTH_LIMIT,
            )
    checkout = big.get("checkout")
    if checkout:
        bad = checkout["oversold_units"] + checkout["unaccounted_units"] + checkout["negative_stock_variants"]
        add("checkout: oversold / unaccounted / negative", bad, "== 0", bad == 0)
        add("checkout: 5xx answers", checkout["errors_5xx"], "== 0", checkout["errors_5xx"] == 0)
    rss = max(figures["worker_rss_mb"]["max"] for figures in results["sizes"].values())
    targets.append(
        {
            "target": "worker RSS after the load (MB, all sizes)",
            "value": rss,
            "limit": f"<= {RSS_LIMIT_MB}",
            "met": rss <= RSS_LIMIT_MB,
        }
    )
    seed = results["sizes"].get(str(SEED_SIZE), {}).get("seed_seconds")
    if seed is not None:
        targets.append(
            {
                "target": f"flask seed-demo --products {SEED_SIZE:,} (s)",
                "value": round(seed, 1),
                "limit": f"< {SEED_LIMIT_S}",
                "met": seed < SEED_LIMIT_S,
            }
        )
    return targets


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(cells))

    return [line(header), "  ".join("-" * width for width in widths), *(line(row) for row in rows)]


def print_report(results: dict) -> None:
    print()
    print("\n".join(_table(HEADER, _rows(results))))
    print()
    print("\n".join(_extras(results)))
    print()
    rows = [(t["target"], str(t["value"]), t["limit"], _verdict(t["met"])) for t in results["targets"]]
    print("\n".join(_table(("target (issue 7)", "measured", "limit", "met"), rows)))


def _verdict(met: bool | None) -> str:
    return "yes" if met else "NO" if met is not None else "-"


def markdown(results: dict) -> str:
    """The same figures as Markdown, to paste into bench/README.md."""
    settings, machine = results["settings"], results["machine"]
    out = [
        f"Run of {results['generated_at']} (commit {results['machine']['commit']}), {results['machine']['cpus']} CPUs, "
        f"PostgreSQL {results['machine']['postgres']}, {settings['workers']} sync gunicorn workers, "
        f"wrk -c{settings['connections']}, {settings['seconds']} s a scenario; load average "
        f"{machine['load_average_at_start'][0]} at the start, {machine['load_average_at_end'][0]} at the end.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    out += ["| " + " | ".join(row) + " |" for row in _rows(results)]
    out += ["", *(("  - " if line.startswith(" ") else "- ") + line.strip() for line in _extras(results)), ""]
    out += ["| target (issue 7) | measured | limit | met |", "|---|---|---|---|"]
    out += [f"| {t['target']} | {t['value']} | {t['limit']} | {_verdict(t['met'])} |" for t in results["targets"]]
    return "\n".join(out) + "\n"


def chart(results: dict, path: Path) -> None:
    """Latency (p50 and p99) of each scenario against the catalog size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator, ScalarFormatter

    sizes = sorted(int(size) for size in results["sizes"])
    figure, axes = plt.subplots(1, 2, figsize=(13, 5), sharex=True)
    for axis, percentile in zip(axes, ("p50", "p99"), strict=True):
        for key, label in SCENARIOS.items():
            points = [
                (size, results["sizes"][str(size)]["scenarios"][key][f"{percentile}_ms"])
                for size in sizes
                if key in results["sizes"][str(size)]["scenarios"]
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, marker="o", label=label, linestyle="--" if key.startswith("healthz") else "-")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks(sizes, [f"{size:,}" for size in sizes])
        axis.xaxis.set_minor_locator(NullLocator())
        axis.yaxis.set_major_formatter(ScalarFormatter())
        axis.set_xlabel("products in the catalog")
        axis.set_ylabel(f"{percentile} latency (ms, log)")
        axis.set_title(f"{percentile} latency at concurrency {results['settings']['connections']}")
        axis.grid(True, which="both", alpha=0.3)
    axes[1].legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (directory / "latest.md").write_text(markdown(results))
    chart(results, directory / "latency.png")
