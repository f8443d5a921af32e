"""`flask` commands of the orders domain."""

import click
from flask import Flask


def register(app: Flask) -> None:
    """Add this domain's commands to `flask`."""

    @app.cli.command("cancel-expired-orders")
    def cancel_expired_orders_command() -> None:
        """Cancel unpaid card/PayPal orders older than ORDER_PAYMENT_TIMEOUT minutes and return their stock."""
        from nexus.orders.services import cancel_expired_orders

        click.echo(f"cancelled {cancel_expired_orders()} expired order(s)")
