"""``course dashboard serve`` and ``course export``: registered by commands.main (``add``)."""

from __future__ import annotations

import sys
from pathlib import Path

from commands.console import judged_at
from commands.console import workspace as _workspace

__all__ = ["add_dashboard_commands"]


def cmd_dashboard_serve(args) -> int:
    from course.coursefile import find_course_file
    from dashboard.service import main as serve

    return serve(find_course_file(args.course).resolve(), ip=args.ip, port=args.port)


def cmd_export(args) -> int:
    from course.export import export_grades
    from course.standing import standing_data

    ws = _workspace(args)
    text = export_grades(ws.course, standing_data(ws, judged_at(args, ws.course)), args.format)
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(out)
        print(f"{args.format} grades of {len(ws.course.roster.students)} students: {out}")
    else:
        sys.stdout.write(text)
    return 0


def add_dashboard_commands(add) -> None:
    dashboard = add("dashboard", None, "the course dashboard, a JupyterHub service")
    sub = dashboard.add_subparsers(dest="dashboard_command", required=True, metavar="ACTION")
    p = sub.add_parser("serve", help="serve the dashboard (the hub starts it as a service)")
    p.add_argument("--course", metavar="PATH",
                   help="course file or its folder (default: ./course.yml)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, help="default: from $JUPYTERHUB_SERVICE_URL, else 8767")
    p.set_defaults(func=cmd_dashboard_serve)
    p = add("export", cmd_export, "write the grades for an LMS: Canvas or Moodle import CSV, "
            "or plain CSV (one row per student, totals and policy status)")
    p.add_argument("--format", choices=["canvas", "moodle", "csv"], required=True)
    p.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    p.add_argument("--as-of", metavar="DATETIME", help="judge at this local time (default: now)")
