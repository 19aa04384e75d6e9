"""The command line (typer + rich). ``main`` is the console-script entry point."""

from thresher.cli.app import app, main
from thresher.cli.blobs import blobs_app
from thresher.cli.curate import curate_app
from thresher.cli.evals import eval_app
from thresher.cli.generate import generate_app
from thresher.cli.media import media_app
from thresher.cli.serve import serve
from thresher.cli.train import train_app
from thresher.cli.users import keys_app, users_app

app.add_typer(users_app, name="user")
app.add_typer(curate_app, name="curate")
app.add_typer(keys_app, name="key")
app.add_typer(eval_app, name="eval")
app.add_typer(generate_app, name="generate")
app.add_typer(media_app, name="media")
app.command("serve")(serve)
app.add_typer(train_app, name="train")
app.add_typer(blobs_app, name="blobs")

__all__ = ["app", "main"]
