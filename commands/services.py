"""The hub's services, started by the hub (or by hand): ``course exchange serve`` and
``course dashboard serve`` (registered by ``commands.main`` through ``add_service_commands``)."""

from __future__ import annotations

from commands.console import DISCOVERY

__all__ = ["add_service_commands"]


def cmd_exchange_serve(args) -> int:
    from course.locate import find_course_file
    from exchange.service import main as serve

    limit = int(args.max_mb * 1e6) if args.max_mb else None
    quota = int(args.quota_mb * 1e6) if args.quota_mb else None
    courses = [find_course_file(path).resolve() for path in args.course or [None]]
    if args.processes < 1:
        raise SystemExit("--processes: at least 1")
    if args.processes > 1:
        return _supervise(args, courses)
    return serve(courses, ip=args.ip, port=args.port, max_submission_bytes=limit,
                 max_stored_bytes=quota, reuse_port=True if args.reuse_port else None)


def _supervise(args, courses) -> int:
    """``--processes N``: N copies of this command, one port (exchange.service.supervise)."""
    import sys

    from exchange.service import supervise

    command = [sys.executable, "-m", "commands.main", "exchange", "serve", "--ip", args.ip]
    for course in courses:
        command += ["--course", str(course)]
    for flag, value in (("--port", args.port), ("--max-mb", args.max_mb),
                        ("--quota-mb", args.quota_mb)):
        if value:
            command += [flag, str(value)]
    return supervise(command, args.processes)


def cmd_dashboard_serve(args) -> int:
    from course.locate import find_course_file
    from dashboard.service import main as serve

    return serve(find_course_file(args.course).resolve(), ip=args.ip, port=args.port)


def add_service_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    exchange = add("exchange", None, "the course exchange, a JupyterHub service")
    exchange_sub = exchange.add_subparsers(dest="exchange_command", required=True,
                                           metavar="ACTION")
    p = exchange_sub.add_parser("serve", help="serve the exchange of one course or several "
                                "(the hub starts it as a service)")
    p.add_argument("--course", metavar="PATH", action="append",
                   help="a course file or folder; repeat it for every course on the hub "
                   f"(default: {DISCOVERY})")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, help="default: from $JUPYTERHUB_SERVICE_URL, else 8765")
    p.add_argument("--max-mb", type=float, metavar="MB", help="largest submission (default: 50)")
    p.add_argument("--quota-mb", type=float, metavar="MB",
                   help="per-student quota: all of a student's kept submissions (default: 1 GiB)")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="run N exchange processes on this port, restarting one that dies "
                   "(needs a PostgreSQL gradebook; default: 1)")
    p.add_argument("--reuse-port", action="store_true",
                   help="share the port with other exchange processes on this host "
                   "(SO_REUSEPORT; default: $COURSE_EXCHANGE_REUSE_PORT=1)")
    p.set_defaults(func=cmd_exchange_serve)
    dashboard = add("dashboard", None, "the course dashboard, a JupyterHub service")
    sub = dashboard.add_subparsers(dest="dashboard_command", required=True, metavar="ACTION")
    p = sub.add_parser("serve", help="serve the dashboard (the hub starts it as a service)")
    p.add_argument("--course", metavar="PATH", help=f"course file or its folder (default: "
                   f"{DISCOVERY})")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, help="default: from $JUPYTERHUB_SERVICE_URL, else 8767")
    p.set_defaults(func=cmd_dashboard_serve)
