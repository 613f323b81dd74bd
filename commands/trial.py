"""Trying the platform out: ``course demo`` (a demo course, graded) and ``course hub`` (a local
JupyterHub with a demo course), registered by ``commands.main`` through ``add_trial_commands``."""

from __future__ import annotations

from pathlib import Path

from commands.console import grade_with_progress, wide_console
from course import calendar

__all__ = ["add_trial_commands"]


def cmd_demo(args) -> int:
    from devhub.demo import ZONE as DEMO_ZONE
    from devhub.demo import run_demo

    now = calendar.utcnow()
    if args.now:
        now = calendar.parse_local(args.now, calendar.get_zone(DEMO_ZONE))
    return run_demo(Path(args.dir), now=now, force=args.force, console=wide_console(),
                    grade_step=grade_with_progress)


def cmd_hub(args) -> int:
    from devhub.hubcourse import run_hub

    return run_hub(Path(args.dir), port=args.port, password=args.password)


def add_trial_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("demo", cmd_demo, "build a demo course with scripted students and grade it")
    p.add_argument("--dir", default="demo-course", help="where to build it (default: demo-course)")
    p.add_argument("--force", action="store_true", help="replace the folder if it exists")
    p.add_argument("--now", metavar="DATETIME",
                   help="lay the term out as if the demo ran at this Berlin time (default: now)")
    p = add("hub", cmd_hub, "start a local JupyterHub with a demo course (make hub)")
    p.add_argument("--dir", default="hub-course", help="the course folder (default: hub-course)")
    p.add_argument("--port", type=int, default=8000, help="the hub's port (default: 8000)")
    p.add_argument("--password", help="the shared password (default: generated once)")
