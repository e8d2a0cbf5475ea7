"""``flask --app wsgi shop create-admin``"""

from __future__ import annotations

import click


@click.command("create-admin")
@click.option("--email", required=True, help="The admin's email address.")
@click.option("--name", default="Administrator", show_default=True)
@click.option("--password", help="For scripts; prompted (hidden, twice) when omitted.")
def create_admin(email: str, name: str, password: str | None) -> None:
    """Create the first admin. Two-factor enrolment happens at the first sign-in."""
    from app.accounts.models import Role
    from app.accounts.services import AccountError, WeakPassword, register_user
    from app.db import unit_of_work

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work():
            user = register_user(name, email, password, role=Role.ADMIN, verified=True)
    except WeakPassword as exc:
        raise click.ClickException("Password refused: " + " ".join(exc.problems)) from exc
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Admin {user.email} created. Sign in at /account/login to set up two-factor "
        "authentication."
    )
