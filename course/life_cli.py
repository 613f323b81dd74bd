"""Commands for course life around the exercises (presenter draw, summaries, wiki export)."""

from __future__ import annotations

__all__ = ["add_life_commands"]


def add_life_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser`` (see cli.py)."""
