"""The ``joinedup`` command line.

joinedup demo       set up and run the embedded platform with a seeded synthetic country
joinedup serve      run the web process (API, portal, back office)
joinedup worker     run the outbox relay and the event consumers
joinedup migrate    bring the database schema up to date
joinedup seed       load a synthetic country into the database
joinedup bench …    benchmarks against a named reference, measured in the same run
joinedup log …      the transparency log: verify, tree head, proofs
joinedup registry … civil registration: record births, deaths, marriages, moves
joinedup rules …    rules as code: evaluate a population from files
joinedup notify …   the digital mailbox: print run of paper letters
joinedup proactive … entitlements granted, offered or told of; the daily age job
joinedup tell-us-once …  agencies informed of deaths: status, dead letters, replay
joinedup settings   every JOINEDUP_* variable, documented
"""

from __future__ import annotations

import typer

from joinedup.cli import (
    bench,
    exchange,
    log,
    notify,
    proactive,
    registry,
    rules,
    server,
    settings_doc,
    tell_us_once,
)

app = typer.Typer(
    name="joinedup",
    help="joinedup: connected, whole-of-government public service delivery.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
server.register(app)
settings_doc.register(app)
app.add_typer(bench.app, name="bench")
app.add_typer(log.app, name="log")
app.add_typer(rules.app, name="rules")
app.add_typer(exchange.app, name="exchange")
app.add_typer(registry.app, name="registry")
app.add_typer(notify.app, name="notify")
app.add_typer(proactive.app, name="proactive")
app.add_typer(tell_us_once.app, name="tell-us-once")


def main() -> None:
    app()
