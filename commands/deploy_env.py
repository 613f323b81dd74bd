"""``course env``: the secrets of a deployment, generated once into an env file that
docker compose (``--env-file``) and Kubernetes (``kubectl create secret generic
--from-env-file``) read. Mode 0600; an existing file is kept unless ``--force``."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from course.errors import UserError

__all__ = ["add_env_command", "deployment_env", "write_env"]


def deployment_env(*, postgres_host: str = "postgres", rabbitmq_host: str = "rabbitmq") -> dict:
    """Fresh secrets, and the URLs that carry them (each service reads only what it needs)."""
    db_password, broker_password = secrets.token_hex(24), secrets.token_hex(24)
    return {
        "POSTGRES_PASSWORD": db_password,
        "RABBITMQ_PASSWORD": broker_password,
        "COURSE_DB_URL": f"postgresql+psycopg://course:{db_password}@{postgres_host}:5432/gradebook",
        "COURSE_HUB_DB_URL": (f"postgresql+psycopg://course:{db_password}@{postgres_host}:5432/"
                              "jupyterhub"),
        "COURSE_BROKER_URL": f"amqp://course:{broker_password}@{rabbitmq_host}:5672//",
        "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
        "JUPYTERHUB_COOKIE_SECRET": secrets.token_hex(32),
        "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
        "COURSE_EXCHANGE_API_TOKEN": secrets.token_hex(32),
        # the formgrader's own token at the hub, where it runs in a pod of its own (Kubernetes)
        "COURSE_FORMGRADER_API_TOKEN": secrets.token_hex(32),
        # the simple authenticator's shared password (a trial run; real courses use OAuth/LTI)
        "COURSE_HUB_PASSWORD": secrets.token_urlsafe(12),
    }


def write_env(path: Path, *, force: bool = False) -> dict:
    if path.exists() and not force:
        raise UserError(f"{path} exists: its secrets are in use (the database's password among "
                        "them); pass --force to replace it")
    values = deployment_env()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# written by `course env`: secrets of this deployment; keep it 0600\n")
        handle.writelines(f"{key}={value}\n" for key, value in values.items())
    os.chmod(path, 0o600)  # also when it existed with wider permissions
    return values


def cmd_env(args) -> int:
    path = Path(args.out)
    write_env(path, force=args.force)
    print(f"wrote {path} (mode 0600): COMPOSE_ENV_FILES={path} deploy/compose.sh ... (the "
          "default file deploy/compose.sh reads is deploy/course.env); or "
          f"kubectl -n course create secret generic course-secrets --from-env-file={path}")
    return 0


def add_env_command(add) -> None:
    """Register ``course env`` with ``add(name, func, help_text) -> argparse parser``."""
    p = add("env", cmd_env, "generate a deployment's secrets into an env file "
            "(docker compose, Kubernetes)")
    p.add_argument("--out", default="deploy/course.env",
                   help="the env file to write (default: deploy/course.env)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
