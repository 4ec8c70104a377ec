"""The ``footalign`` command line: one sub-command per pipeline stage.

Each stage registers its commands from its own module (``cli/<stage>.py``); this module only
assembles them and turns user errors into one clear line and an exit code.
"""

from __future__ import annotations

import os
import sys

import typer
from typer._click.exceptions import ClickException

from footalign import __version__
from footalign.cli import evaluate, inspect, model, predict, simulate
from footalign.errors import FootalignError

app = typer.Typer(
    name="footalign",
    help="Automatic landmarks and alignment measurements of the foot and ankle from weight-bearing CT.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"footalign {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """footalign: 22 landmarks and 14 alignment measurements per foot from a WBCT scan."""


for _module in (inspect, simulate, model, predict, evaluate):
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, report user errors as one line (no traceback)."""
    def err(message: str) -> None:  # plain print: rich would wrap a long path onto two lines
        print(f"footalign: {message}", file=sys.stderr)

    try:
        rv = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except ClickException as exc:
        exc.show()
        return int(exc.exit_code or 0)
    except typer.Abort:
        err("aborted")
        return 130
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except FootalignError as exc:
        err(f"error: {exc}")
        return int(exc.exit_code or 0)
    except Exception as exc:  # a bug: still one line unless debugging is asked for
        if os.environ.get("FOOTALIGN_DEBUG"):
            raise
        err(f"internal error: {type(exc).__name__}: {exc} (set FOOTALIGN_DEBUG=1 for a traceback)")
        return 70
    return rv if isinstance(rv, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
