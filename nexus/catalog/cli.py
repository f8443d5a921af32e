"""`flask` commands of the catalog domain: the low-stock report and the demo catalog."""

import click
from flask import Flask

from nexus.catalog import services
from nexus.catalog.services import demo


def register(app: Flask) -> None:
    """Add this domain's commands to `flask`."""

    @app.cli.command("low-stock")
    @click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000), help="rows to show")
    def low_stock(limit: int) -> None:
        """List active variants at or under their product's low-stock threshold, emptiest first."""
        page = services.list_low_stock(page=1, page_size=limit)
        if not page.count:
            click.echo("No variant is at or under its low-stock threshold.")
            return
        rows = [("SKU", "PRODUCT", "SIZE", "STOCK", "THRESHOLD")] + [
            (v.sku, v.product.name, v.size, str(v.stock), str(v.product.effective_low_stock_threshold))
            for v in page.items
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        for row in rows:
            click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        shown = f" (showing {len(page.items)})" if page.count > len(page.items) else ""
        click.echo(f"\n{page.count} variant(s) at or under their low-stock threshold{shown}.")

    @app.cli.command("seed-demo")
    @click.option("--products", "count", default=200, show_default=True, type=click.IntRange(0, 10_000_000))
    @click.option("--if-empty", is_flag=True, help="Do nothing when the catalog already has products.")
    @click.option("--seed", type=int, default=None, help="Random seed, for the same catalog every time.")
    def seed_demo(count: int, if_empty: bool, seed: int | None) -> None:
        """Build a demo catalog: nested categories, products in every status, variants, images, reviews."""
        if if_empty and demo.catalog_has_products():
            click.echo("The catalog already has products: nothing seeded.")
            return
        with click.progressbar(length=count, label="Seeding products") as bar:
            report = demo.seed_demo(products=count, seed=seed, progress=bar.update)
        click.echo(
            f"Seeded {report.products} products, {report.variants} variants, {report.images} images, "
            f"{report.reviews} reviews and {report.categories} new categories."
        )
        if report.password:
            click.echo(f"Demo customers {', '.join(report.users)} sign in with the password: {report.password}")
