"""The command line (typer + rich). ``main`` is the console-script entry point."""

from thresher.cli.app import app, main
from thresher.cli.serve import serve
from thresher.cli.users import keys_app, users_app

app.add_typer(users_app, name="user")
app.add_typer(keys_app, name="key")
app.command("serve")(serve)

__all__ = ["app", "main"]
