"""``joinedup rules …`` (filled in by the rules work)."""

import typer

app = typer.Typer(help="Rules as code.", no_args_is_help=True)
