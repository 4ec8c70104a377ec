"""CLI commands of the predict stage (filled in by the stage's owner)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to ``app``."""
