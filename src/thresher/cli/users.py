"""``thresher user ...`` and ``thresher key ...``: accounts, roles and API keys from the shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from thresher.cli._context import load_home
from thresher.errors import ConfigError
from thresher.store import Store

users_app = typer.Typer(help="Users and their roles in projects.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys: one project, one role, shown once.", no_args_is_help=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="Thresher home folder")]
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL")]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="read the password from standard input")]


def read_password(from_stdin: bool) -> str:
    """From stdin (scripts) or a hidden prompt with confirmation; never a default."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise ConfigError("a password needs at least 8 characters")
    return password


def create_user(store: Store, name: str, password: str, *, admin: bool, project: str | None, role: str | None) -> str:
    user = store.accounts.create_user(name, password, is_admin=admin)
    if project and role:
        p = store.ensure_project(project)
        assert p.id is not None
        store.accounts.set_role(name, p.id, role)
    what = "administrator" if user.is_admin else "user"
    return f"{what} {user.name} created" + (f", {role} in {project}" if project and role else "")


@users_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="user name")],
    admin: Annotated[bool, typer.Option(help="administrator of every project")] = False,
    project: Annotated[str | None, typer.Option(help="give a role in this project")] = None,
    role: Annotated[str | None, typer.Option(help="owner, engineer, reviewer or annotator")] = None,
    password_stdin: PasswordStdin = False,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Create a user (asks for the password)."""
    from thresher.cli.app import console

    h = load_home(home, db)
    store = h.open()
    try:
        console.print(
            escape(create_user(store, name, read_password(password_stdin), admin=admin, project=project, role=role))
        )
    finally:
        store.close()


@users_app.command("role")
def user_role(
    name: Annotated[str, typer.Argument(help="user name")],
    project: Annotated[str, typer.Argument(help="project")],
    role: Annotated[str, typer.Argument(help="owner, engineer, reviewer or annotator")],
    skill: Annotated[list[str] | None, typer.Option(help="a skill (queues route work by skill)")] = None,
    language: Annotated[list[str] | None, typer.Option(help="a language the user works in (BCP 47)")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Set a user's role (and skills, languages) in a project."""
    from thresher.cli.app import console

    store = load_home(home, db).open()
    try:
        p = store.get_project(project)
        assert p.id is not None
        store.accounts.set_role(name, p.id, role, skills=skill, languages=language)
        console.print(f"{escape(name)} is {role} in {escape(project)}")
    finally:
        store.close()


@users_app.command("list")
def user_list(home: HomeOpt = None, db: DbOpt = None) -> None:
    """List users."""
    from thresher.cli.app import console

    store = load_home(home, db).open()
    try:
        table = Table("user", "admin", "created")
        for u in store.accounts.list_users():
            table.add_row(escape(u.name), "yes" if u.is_admin else "", str(u.created_at)[:19])
        console.print(table)
    finally:
        store.close()


@keys_app.command("create")
def key_create(
    project: Annotated[str, typer.Argument(help="the key's project")],
    role: Annotated[str, typer.Option(help="app (capture only), annotator, reviewer, engineer or owner")] = "app",
    name: Annotated[str, typer.Option(help="what the key is for")] = "app",
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Create an API key; the secret is printed once and never stored."""
    from thresher.cli.app import console

    store = load_home(home, db).open()
    try:
        p = store.get_project(project)
        assert p.id is not None
        key, secret = store.accounts.create_key(p.id, role, name)
        console.print(f"key {key.id} ({role} in {escape(project)}); store the secret now, it is not shown again:")
        sys.stdout.write(secret + "\n")
    finally:
        store.close()
