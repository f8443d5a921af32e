"""Operator commands every domain shares: the outbox relay and the OpenAPI document."""

import json

import click
from flask import Flask
from flask.cli import AppGroup

from nexus.common.outbox import RELAY_FLOOR_SECONDS, relay_outbox
from nexus.extensions import api


def register(app: Flask) -> None:
    @app.cli.command("outbox-relay")
    @click.option(
        "--older-than",
        default=0,
        show_default=True,
        help=f"only rows at least this many seconds old (never under {RELAY_FLOOR_SECONDS}: a younger row may be "
        "published already)",
    )
    def outbox_relay(older_than: int) -> None:
        """Publish background tasks whose first publishing failed (broker outage)."""
        click.echo(f"published {relay_outbox(older_than_seconds=older_than)} task(s)")

    openapi = AppGroup("openapi", help="The OpenAPI document.")

    @openapi.command("write")
    @click.argument("path", type=click.Path(dir_okay=False, writable=True))
    def write(path: str) -> None:
        """Write the OpenAPI document to PATH."""
        with open(path, "w", encoding="utf-8") as out:
            json.dump(api.spec.to_dict(), out, indent=2)
            out.write("\n")
        click.echo(f"wrote {path}")

    app.cli.add_command(openapi)
