"""Several courses on Kubernetes, checked offline: deploy/kubernetes/courses.yaml validates
strictly against the pinned Kubernetes version, names the same courses everywhere (exchange,
its gradebooks init, workers, the one deadline sweep, formgraders, the hub's values), gives no
container a $COURSE_DB_URL (one database for every course), runs the exchange as two replicas
behind one Service, and keeps each formgrader to its own course's folder; values-courses.yaml
over values.yaml, run as the chart's hub runs it, registers every course's services.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML
from small_courses import course_text
from traitlets.config import Config

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy" / "kubernetes"
K8S_VERSION = "1.31.0"
COURSES = ["dl", "ml"]
FILLED = {"REGISTRY": "registry.course.internal:5000", "TAG": "0123456789ab-gpu"}


def _filled(text: str) -> str:
    for key, value in FILLED.items():
        text = text.replace(key, value)
    return text


def _documents() -> list[dict]:
    return list(YAML(typ="safe").load_all(_filled((KUBE / "courses.yaml").read_text())))


def _pod(doc: dict) -> dict:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def _named(docs: list[dict], kind: str, name: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def _courses_of(args: list[str]) -> list[str]:
    files = [args[i + 1] for i, arg in enumerate(args) if arg == "--course"]
    return [Path(f).parent.name for f in files]


def _env(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def test_courses_manifests_validate_strictly(tmp_path):
    manifests = tmp_path / "courses.yaml"
    manifests.write_text(_filled((KUBE / "courses.yaml").read_text()))
    done = subprocess.run([str(Path(sys.executable).parent / "kubernetes-validate"), "--strict",
                           "-k", K8S_VERSION, str(manifests)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = sorted(line.split("resource ")[1].split()[0] for line in done.stdout.splitlines()
                   if " passed for resource " in line)
    assert kinds == sorted([
        "persistentvolumeclaim/course-data", "service/postgres", "statefulset/postgres",
        "service/rabbitmq", "statefulset/rabbitmq", "service/exchange", "deployment/exchange",
        "deployment/grading-gpu", "deployment/grading-cpu", "cronjob/deadline-sweep",
        "service/formgrader-dl", "deployment/formgrader-dl", "service/formgrader-ml",
        "deployment/formgrader-ml", "networkpolicy/formgrader-ingress",
        "networkpolicy/exchange-ingress", "networkpolicy/data-ingress"])


def test_every_part_serves_the_same_courses_each_from_its_own_gradebook():
    docs = _documents()
    exchange = _named(docs, "Deployment", "exchange")
    pod = _pod(exchange)
    (init,) = pod["initContainers"]
    (server,) = pod["containers"]
    assert init["command"][:2] == ["python3", "/opt/course/deploy/gradebooks.py"]
    assert _courses_of(init["command"]) == COURSES
    assert _courses_of(server["command"]) == COURSES
    assert _env(init)["COURSE_HUB_DB_URL"] == {"secretKeyRef": {
        "name": "course-secrets", "key": "COURSE_HUB_DB_URL"}}  # the superuser: the init only
    assert _env(server)["COURSE_EXCHANGE_STAFF_SERVICES"] == ",".join(
        f"formgrader-{c}={c}" for c in COURSES)
    workers = {"grading-gpu": "Deployment", "grading-cpu": "Deployment",
               "deadline-sweep": "CronJob"}
    for name, kind in workers.items():
        (container,) = _pod(_named(docs, kind, name))["containers"]
        listed = _env(container)["COURSE_WORKER_COURSES"].split(":")
        assert [Path(f).parent.name for f in listed] == COURSES, name
        assert "--course" not in container["command"], name
    for doc in docs:  # no container names one database for every course
        if doc["kind"] in ("Deployment", "StatefulSet", "CronJob"):
            pod = _pod(doc)
            for container in (*pod.get("initContainers", []), *pod["containers"]):
                assert "COURSE_DB_URL" not in _env(container), doc["metadata"]["name"]
                assert "COURSE_HUB_DB_URL" not in _env(container) or container is init


def test_two_exchanges_behind_one_service_and_one_sweep_of_every_course():
    docs = _documents()
    exchange = _named(docs, "Deployment", "exchange")
    assert exchange["spec"]["replicas"] == 2
    assert exchange["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    service = _named(docs, "Service", "exchange")
    labels = exchange["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert _pod(exchange)["containers"][0]["readinessProbe"]["httpGet"]["path"] == \
        "/services/exchange/health"
    sweeps = [d for d in docs if d["kind"] in ("Deployment", "CronJob")
              and any("--beat" in c["command"] or c["command"][:2] == ["course", "sweep"]
                      for c in _pod(d)["containers"])]
    assert [d["metadata"]["name"] for d in sweeps] == ["deadline-sweep"]
    cron = sweeps[0]["spec"]
    assert cron["schedule"] == "* * * * *" and cron["concurrencyPolicy"] == "Forbid"
    (sweep,) = _pod(sweeps[0])["containers"]
    assert sweep["command"] == ["course", "sweep"]
    assert "SYS_ADMIN" not in sweep["securityContext"]["capabilities"].get("add", [])
    keda = list(YAML(typ="safe").load_all((KUBE / "keda.yaml").read_text()))
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in keda if d["kind"] == "ScaledObject"}
    assert scaled <= {d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"}


def test_each_formgrader_sees_its_own_course_only():
    docs = _documents()
    uids = set()
    for course_id in COURSES:
        deployment = _named(docs, "Deployment", f"formgrader-{course_id}")
        pod = _pod(deployment)
        (container,) = pod["containers"]
        assert _courses_of(container["command"]) == [course_id]
        (mount,) = container["volumeMounts"]
        assert mount == {"name": "course-data", "mountPath": f"/srv/course/{course_id}",
                         "subPath": course_id}  # not the other courses' folders
        assert _env(container)["JUPYTERHUB_API_TOKEN"] == {"secretKeyRef": {
            "name": "course-formgrader-tokens", "key": course_id}}
        assert pod["automountServiceAccountToken"] is False
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True and "fsGroup" not in security
        uids.add(security["runAsUser"])
        service = _named(docs, "Service", f"formgrader-{course_id}")
        assert service["spec"]["selector"]["course"] == course_id
    assert len(uids) == len(COURSES)  # each course folder its own owner
    policy = _named(docs, "NetworkPolicy", "formgrader-ingress")
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app": "course",
                                                            "component": "formgrader"}


def _merged(base, overlay):
    """Helm's merge of values files: maps merge, lists and scalars replace, null removes."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return overlay
    merged = dict(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merged(base.get(key), value)
    return merged


def test_the_hub_values_of_several_courses(tmp_path, monkeypatch):
    from kubernetes_asyncio.config import kube_config

    yaml = YAML(typ="safe")
    values = _merged(yaml.load(_filled((KUBE / "values.yaml").read_text())),
                     yaml.load(_filled((KUBE / "values-courses.yaml").read_text())))
    assert "COURSE_DB_URL" not in values["hub"]["extraEnv"]
    ports = [p["port"] for p in values["hub"]["service"]["extraPorts"]]
    assert ports == [8767, 8768]
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    for course_id in COURSES:
        (tmp_path / course_id).mkdir()
        (tmp_path / course_id / "course.yml").write_text(course_text(course_id))
        (tokens / course_id).write_text(f"token-of-{course_id}\n")
    for name, value in values["hub"]["extraEnv"].items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("COURSE_EXCHANGE_API_TOKEN", "exchange-token")
    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\n"
                          "contexts: []\n")
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    c = Config()
    for name, code in sorted(values["hub"]["extraConfig"].items()):
        assert 'COURSES_ROOT = "/srv/course"' in code
        code = code.replace('COURSES_ROOT = "/srv/course"', f'COURSES_ROOT = "{tmp_path}"')
        code = code.replace('"/etc/course/formgrader-tokens"', f'"{tokens}"')
        path = tmp_path / f"extraConfig-{name}.py"
        path.write_text(code)
        runpy.run_path(str(path), init_globals={"c": c})
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert services["exchange"]["url"] == "http://exchange:8765"
    assert services["exchange"]["api_token"] == "exchange-token"
    for index, course_id in enumerate(COURSES):
        formgrader = services[f"formgrader-{course_id}"]
        assert formgrader["url"] == f"http://formgrader-{course_id}:9999"
        assert formgrader["api_token"] == f"token-of-{course_id}"
        assert "command" not in formgrader
        dashboard = services[f"dashboard-{course_id}"]
        assert dashboard["url"] == f"http://hub:{8767 + index}"
    for name, service in services.items():
        assert "COURSE_DB_URL" not in service.get("environment", {}), name
