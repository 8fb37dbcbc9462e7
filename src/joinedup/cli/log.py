"""``joinedup log …`` (filled in by the transparency-log work)."""

import typer

app = typer.Typer(help="The transparency log.", no_args_is_help=True)
