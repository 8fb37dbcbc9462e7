"""``joinedup proactive …``: the proactive services from the command line."""

from __future__ import annotations

import typer

from joinedup.cli import reevaluation

app = typer.Typer(help="Proactive services: law changes and re-evaluation.", no_args_is_help=True)
reevaluation.register(app)
