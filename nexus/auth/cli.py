"""`flask create-superuser`."""

import click
from flask import Flask

from nexus.auth import services
from nexus.common.errors import ValidationFailed


def register(app: Flask) -> None:
    @app.cli.command("create-superuser")
    @click.option("--email", prompt="Email", help="the staff user's email address (prompted when absent)")
    @click.option(
        "--password",
        prompt="Password",
        hide_input=True,
        confirmation_prompt=True,
        help="the password (prompted twice when absent; prefer the prompt, options end up in shell history)",
    )
    def create_superuser(email: str, password: str) -> None:
        """Create a verified staff user who can use every admin endpoint."""
        try:
            user = services.create_superuser(email=email, password=password)
        except ValidationFailed as exc:
            problems = [f"{field}: {message}" for field, messages in (exc.errors or {}).items() for message in messages]
            raise click.ClickException("could not create the superuser:\n  " + "\n  ".join(problems)) from exc
        click.echo(f"Superuser {user.email} created (id {user.id}).")
