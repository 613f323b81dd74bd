"""Every ``COURSE_*`` environment variable the platform reads, with its meaning and who reads it.

The README's table "Environment variables" is this table (tests/course/test_environment.py
compares them, and checks that every ``COURSE_*`` name in the packages and deploy/ is here and
that each reader named here mentions its variable). A variable only the tests read is listed
with ``test_only``; it is not in the README.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VARIABLES", "Variable", "variable"]


@dataclass(frozen=True)
class Variable:
    name: str
    meaning: str  # one line, no '|': it is a cell of the README's table
    readers: tuple[str, ...]  # files (from the repository root) that read it or pass it on
    test_only: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("COURSE_BROKER_URL",
             "the grading fleet's RabbitMQ (amqp://user:pass@host/vhost), over the course "
             "file's grading.broker",
             ("course/fleet/app.py", "commands/fleet.py", "commands/setup.py",
              "deploy/compose/compose.yml",
              "deploy/compose/jupyterhub_config.py", "deploy/kubernetes/course.yaml")),
    Variable("COURSE_DB_URL",
             "the gradebook's URL, over the course file's gradebook.url (it names one gradebook, "
             "for one course)",
             ("course/workspace.py", "deploy/compose/compose.yml",
              "deploy/compose/jupyterhub_config.py", "deploy/kubernetes/course.yaml",
              "deploy/kubernetes/values.yaml")),
    Variable("COURSE_DIR",
             "compose: the course folder on the host (course.yml, assignments/), mounted at "
             "/srv/course",
             ("deploy/compose/compose.yml", "deploy/compose/gpu.yml")),
    Variable("COURSE_EXCHANGE_API_TOKEN",
             "the exchange service's JupyterHub API token",
             ("hub_config/settings.py", "devhub/localhub.py", "deploy/kubernetes/course.yaml",
              "deploy/kubernetes/values.yaml")),
    Variable("COURSE_EXCHANGE_REPLICATED",
             "1: other exchange processes (replicas) serve the same courses; the exchange then "
             "refuses a SQLite gradebook at start",
             ("exchange/service.py", "deploy/compose/courses.yml",
              "deploy/kubernetes/courses.yaml", "deploy/kubernetes/course.yaml")),
    Variable("COURSE_EXCHANGE_REUSE_PORT",
             "1: this exchange process shares its port with others on the host (SO_REUSEPORT; "
             "set by course exchange serve --processes N); several need a PostgreSQL gradebook",
             ("exchange/service.py",)),
    Variable("COURSE_EXCHANGE_STAFF_SERVICES",
             "the exchange's staff services, name=course-id pairs comma-separated (set by the "
             "hub's settings)",
             ("exchange/auth.py", "hub_config/settings.py", "deploy/kubernetes/course.yaml")),
    Variable("COURSE_EXCHANGE_URL",
             "the exchange's URL, for nbgrader in users' servers and the formgrader",
             ("exchange/client.py", "hub_config/settings.py", "hub_config/formgrader/external.py")),
    Variable("COURSE_FILE",
             "the course file: of the hub, the formgrader and users' servers; course commands "
             "take it when no --course is given",
             ("course/locate.py", "hub_config/jupyterhub_config.py",
              "hub_config/formgrader/autograde.py", "hub_config/formgrader/launch.py",
              "hub_config/formgrader/nbgrader_config.py", "hub_config/formgrader/gate.py",
              "deploy/compose/jupyterhub_config.py", "deploy/kubernetes/values.yaml")),
    Variable("COURSE_FORMGRADER_API_TOKEN",
             "kubernetes: the formgrader service's JupyterHub API token",
             ("deploy/kubernetes/values.yaml", "deploy/kubernetes/course.yaml")),
    Variable("COURSE_FORMGRADER_SERVICE",
             "in a staff member's server: the formgrader services of their courses, "
             "comma-separated (set by the hub)",
             ("hub_config/singleuser/course_formgrader.py", "hub_config/settings.py")),
    Variable("COURSE_GPU_DEVICES",
             "compose: the GPUs users' servers are placed on, comma-separated ids",
             ("deploy/compose/jupyterhub_config.py", "deploy/compose/compose.yml",
              "deploy/compose/gpu.yml")),
    Variable("COURSE_HUB_AUTHENTICATOR",
             "how people log in to the hub: generic-oauth, lti13 or simple (no default)",
             ("hub_config/jupyterhub_config.py", "deploy/compose/jupyterhub_config.py",
              "deploy/compose/compose.yml")),
    Variable("COURSE_HUB_DB_URL",
             "compose: JupyterHub's own database (spawner state, GPU placements)",
             ("deploy/compose/jupyterhub_config.py", "deploy/compose/compose.yml")),
    Variable("COURSE_HUB_PASSWORD",
             "the simple authenticator's shared password (a trial)",
             ("hub_config/jupyterhub_config.py", "deploy/compose/jupyterhub_config.py",
              "deploy/compose/compose.yml")),
    Variable("COURSE_HUB_SPAWNER",
             "how the example hub config starts users' servers: local, docker or kube (default local)",
             ("hub_config/jupyterhub_config.py",)),
    Variable("COURSE_ID",
             "in a user's server: the one course it belongs to (set by the hub)",
             ("hub_config/singleuser/nbgrader_config.py", "hub_config/settings.py",
              "deploy/kubernetes/course.yaml")),
    Variable("COURSE_IDS",
             "in a user's server: all of the user's courses, comma-separated (set by the hub)",
             ("hub_config/singleuser/nbgrader_config.py", "hub_config/settings.py")),
    Variable("COURSE_LTI_KEY_DIR",
             "the LTI tool's private keys (a folder; a deployment secret's mount), default "
             "<course folder>-lti-keys beside the course folder",
             ("course/lti_platforms.py", "hub_config/settings.py")),
    Variable("COURSE_NETWORK",
             "compose: the Docker network of users' servers (the hub and nothing else)",
             ("deploy/compose/jupyterhub_config.py", "deploy/compose/compose.yml")),
    Variable("COURSE_ROLE",
             "in a user's server: staff or student, which nbgrader Lab parts it shows (set by "
             "the hub)",
             ("hub_config/settings.py", "hub_config/singleuser/jupyter_server_config.py")),
    Variable("COURSE_SECCOMP_PROFILE",
             "compose: the grading workers' seccomp profile (default grading-seccomp.json)",
             ("deploy/compose/compose.yml", "deploy/compose/gpu.yml")),
    Variable("COURSE_SINGLEUSER_CPU_IMAGE",
             "kubernetes: the image of users' servers without a GPU",
             ("deploy/kubernetes/values.yaml",)),
    Variable("COURSE_SINGLEUSER_IMAGE",
             "the image of users' servers",
             ("deploy/compose/jupyterhub_config.py", "deploy/compose/compose.yml",
              "deploy/kubernetes/values.yaml")),
    Variable("COURSE_STACK",
             "compose: the project's name (default course)",
             ("deploy/compose/compose.yml",)),
    Variable("COURSE_TAG",
             "compose: the images' tag that deploy/build-images.sh prints",
             ("deploy/compose/compose.yml", "deploy/compose/gpu.yml", "deploy/build-images.sh")),
    Variable("COURSE_TIMEZONE",
             "in a user's server: the zone of the user's courses when they share one (set by "
             "the hub)",
             ("hub_config/settings.py", "hub_config/singleuser/nbgrader_config.py",
              "tests/exchange/test_receipt_text.py")),
    Variable("COURSE_USER",
             "who grants, revokes and releases, as recorded (default: the login name)",
             ("course/gradebook/records.py",)),
    Variable("COURSE_USERS_PER_GPU",
             "compose: users' servers sharing one GPU (default 1)",
             ("deploy/compose/jupyterhub_config.py",)),
    Variable("COURSE_USER_CPU_LIMIT",
             "compose: cores of each user's server (default 2)",
             ("deploy/compose/jupyterhub_config.py",)),
    Variable("COURSE_USER_MEM_LIMIT",
             "compose: memory of each user's server (default 24G)",
             ("deploy/compose/jupyterhub_config.py",)),
    Variable("COURSE_WORKER_COURSES",
             "course worker: its course files, separated by ':' (as --course, repeated)",
             ("commands/fleet.py",)),
    Variable("COURSE_WORKER_GPU_CHECK",
             "course worker --gpu: off skips the start's check that TensorFlow sees exactly its "
             "GPU (CI, which has none; the device is still found in /proc)",
             ("commands/fleet.py",)),
    Variable("COURSE_WORKER_GPU_MINOR",
             "in a gpu worker's processes: N of its GPU's /dev/nvidiaN, bound into the sandbox "
             "(set by course worker --gpu)",
             ("commands/fleet.py", "course/fleet/jobs.py")),
    Variable("COURSE_WORKER_PROC_ROOT",
             "course worker --gpu: the /proc whose driver/nvidia/gpus lists the GPUs (default "
             "/proc; tests give a made-up one)",
             ("commands/fleet.py",)),
    Variable("COURSE_WORKER_QUEUE",
             "in a worker's processes: the queue it takes jobs from, cpu or gpu (set by "
             "course worker)",
             ("course/fleet/jobs.py", "commands/fleet.py")),
    Variable("COURSE_TEST_DOCKER_ROOT",
             "tests: the data root of the tests' own Docker daemon",
             ("tests/deploy/docker_daemon.py",), test_only=True),
    Variable("COURSE_SECRET_CANARY",
             "tests: a secret in the grading process's environment that no attack may read",
             ("tests/autograder/test_attacks.py",), test_only=True),
)


def variable(name: str) -> Variable:
    """The row of ``name``; KeyError for a variable the platform does not read."""
    for row in VARIABLES:
        if row.name == name:
            return row
    raise KeyError(name)
