"""``joinedup settings``: every JOINEDUP_* variable with its default and meaning."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from joinedup.core.settings import Settings


def settings_rows() -> list[tuple[str, str, str]]:
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if "secret" in name or "key" in name:
            shown = "(secret)"
        elif default is None:
            shown = ""  # "(see meaning)": the default depends on other settings
        else:
            shown = str(getattr(default, "value", default))
        rows.append(
            (
                f"JOINEDUP_{name.upper()}",
                shown if shown != "" else "(see meaning)",
                field.description or "",
            )
        )
    return rows


def register(app: typer.Typer) -> None:
    @app.command("settings")
    def show_settings(
        markdown: bool = typer.Option(False, "--markdown", help="Print a Markdown table."),
    ) -> None:
        """List every JOINEDUP_* variable, its default and what it does."""
        rows = settings_rows()
        if markdown:
            typer.echo("| variable | default | meaning |\n|---|---|---|")
            for variable, default, meaning in rows:
                typer.echo(f"| `{variable}` | `{default}` | {meaning} |")
            return
        table = Table("variable", "default", "meaning")
        for row in rows:
            table.add_row(*row)
        Console().print(table)
