"""A course's formgrader in a pod or container of its own, not beside the hub.

The hub starts a formgrader as a process next to itself; on Kubernetes that is the hub's pod,
as the hub's user. Run on its own instead, it has its own identity, its own course's folder and
its own token, and the hub only routes to it (``c.CourseHub.formgrader_urls`` and
``formgrader_api_tokens``)::

    JUPYTERHUB_API_TOKEN=... python -m hub_config.formgrader.external \\
        --course /srv/course/course.yml --hub-api http://hub:8081/hub/api \\
        --exchange-url http://exchange:8765/services/exchange/ --port 9999

It sets the environment a hub gives the services it starts (``service_environment``) and
starts the same server through ``hub_config.formgrader.launch``: locked down by ``gate.py``, as
the course folder's owner when started as root.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from course.coursefile import Course, load_course

from ..roles import formgrader_name

__all__ = ["service_environment"]

CONFIG = Path(__file__).resolve().parent  # this folder: the formgrader's Jupyter config


def service_environment(course: Course, course_file: str, *, hub_api: str, exchange_url: str,
                        port: int, ip: str = "0.0.0.0", base_url: str = "/") -> dict[str, str]:
    """What JupyterHub passes a service it starts, for the formgrader of ``course`` (the
    token, ``JUPYTERHUB_API_TOKEN``, comes from the deployment's secret)."""
    name = formgrader_name(course)
    prefix = f"{base_url.rstrip('/')}/services/{name}/"
    access = json.dumps([f"access:services!service={name}"])
    return {"JUPYTERHUB_SERVICE_NAME": name, "JUPYTERHUB_CLIENT_ID": f"service-{name}",
            "JUPYTERHUB_API_URL": hub_api, "JUPYTERHUB_BASE_URL": base_url,
            "JUPYTERHUB_SERVICE_PREFIX": prefix, "JUPYTERHUB_SERVICE_URL": f"http://{ip}:{port}",
            "JUPYTERHUB_OAUTH_CALLBACK_URL": f"{prefix}oauth_callback",
            "JUPYTERHUB_OAUTH_SCOPES": access, "JUPYTERHUB_OAUTH_ACCESS_SCOPES": access,
            "JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES": "[]", "JUPYTERHUB_DEFAULT_URL": "/lab",
            "COURSE_FILE": course_file, "COURSE_EXCHANGE_URL": exchange_url,
            "JUPYTER_CONFIG_PATH": str(CONFIG)}


def main(argv: list[str] | None = None) -> None:

    parser = argparse.ArgumentParser(prog="formgrader", description=__doc__.split("\n")[0])
    parser.add_argument("--course", required=True, help="the course file")
    parser.add_argument("--hub-api", required=True, help="the hub's API as this pod reaches it")
    parser.add_argument("--exchange-url", required=True)
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--ip", default="0.0.0.0")
    parser.add_argument("--base-url", default="/", help="the hub's base URL")
    args = parser.parse_args(argv)
    if not os.environ.get("JUPYTERHUB_API_TOKEN"):
        raise SystemExit("formgrader: $JUPYTERHUB_API_TOKEN (its token at the hub) is not set")
    course, path = load_course(args.course)
    os.environ.update(service_environment(
        course, str(path.resolve()), hub_api=args.hub_api, exchange_url=args.exchange_url,
        port=args.port, ip=args.ip, base_url=args.base_url))
    os.chdir(path.resolve().parent)
    os.execv(sys.executable, [sys.executable, "-m", "hub_config.formgrader.launch",
                              f"--ServerApp.root_dir={path.resolve().parent}"])


if __name__ == "__main__":
    main()
