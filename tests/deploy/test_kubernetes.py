"""The Kubernetes deployment, checked offline: our manifests and the pods KubeSpawner builds
from the same profiles the Zero-to-JupyterHub values configure validate strictly against a
pinned Kubernetes version; the values' hub configuration really loads hub_config.

No cluster starts here (none can): KubeSpawner builds pod manifests without one, given a
kubeconfig to read.
"""

from __future__ import annotations

import asyncio
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import kubernetes_validate
import pytest
from ruamel.yaml import YAML
from traitlets.config import Config

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy" / "kubernetes"
K8S_VERSION = "1.31.0"  # the version deploy/README.md names
PLACEHOLDERS = {"REGISTRY": "registry.course.internal:5000", "TAG": "0123456789ab-gpu",
                "COURSE_ID": "dl-test"}
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: offline, user: {token: offline}}]
contexts: [{name: offline, context: {cluster: offline, user: offline, namespace: course}}]
current-context: offline
"""


def _filled(text: str) -> str:
    for key, value in PLACEHOLDERS.items():
        text = text.replace(key, value)
    return text


def test_course_manifests_validate_strictly(tmp_path):
    manifests = tmp_path / "course.yaml"
    manifests.write_text(_filled((KUBE / "course.yaml").read_text()))
    done = subprocess.run([str(Path(sys.executable).parent / "kubernetes-validate"), "--strict",
                           "-k", K8S_VERSION, str(manifests)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    kinds = sorted(line.split("resource ")[1].split()[0] for line in done.stdout.splitlines()
                   if " passed for resource " in line)
    assert kinds == sorted([
        "persistentvolumeclaim/course-data", "service/postgres", "statefulset/postgres",
        "service/rabbitmq", "statefulset/rabbitmq", "service/exchange", "deployment/exchange",
        "deployment/grading-gpu", "deployment/grading-sweep", "deployment/grading-cpu",
        "service/formgrader",
        "deployment/formgrader", "networkpolicy/formgrader-ingress",
        "networkpolicy/exchange-ingress",
        "networkpolicy/data-ingress"])
    workers = next(d for d in YAML(typ="safe").load_all(manifests.read_text())
                   if d["metadata"]["name"] == "grading-gpu")
    container = workers["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"  # one worker per GPU
    assert container["command"][:2] == ["course", "worker"] and "gpu" in container["command"]
    # whichever GPU the device plugin gives the pod: the one it sees, checked at start
    assert container["command"][-2:] == ["--gpu", "visible"]
    documents = list(YAML(typ="safe").load_all(manifests.read_text()))
    grading = [d for d in documents if d["metadata"]["name"].startswith("grading-")]
    assert sorted(d["metadata"]["name"] for d in grading) == ["grading-cpu", "grading-gpu",
                                                              "grading-sweep"]
    for deployment in grading:  # what bubblewrap needs, and no more (THREATS.md 27)
        pod = deployment["spec"]["template"]["spec"]
        (worker,) = pod["containers"]
        security = worker["securityContext"]
        assert set(security["capabilities"]["add"]) == {"SYS_ADMIN", "NET_ADMIN"}
        assert security["seccompProfile"] == {"type": "Localhost",
                                              "localhostProfile": "course-grading.json"}
        assert not any("hostPath" in volume for volume in pod["volumes"])  # no node cgroups
    formgrader = next(d for d in documents if d["kind"] == "Deployment"
                      and d["metadata"]["name"] == "formgrader")["spec"]["template"]["spec"]
    assert formgrader["automountServiceAccountToken"] is False  # nothing of the cluster's
    assert formgrader["securityContext"]["runAsNonRoot"] is True
    assert formgrader["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    for deployment in grading:  # no Deployment's selector adopts another's pods
        selector = deployment["spec"]["selector"]["matchLabels"]
        adopted = [d["metadata"]["name"] for d in grading
                   if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert adopted == [deployment["metadata"]["name"]]
    (sweeper,) = [d for d in grading if "--beat" in d["spec"]["template"]["spec"]
                  ["containers"][0]["command"]]
    assert sweeper["metadata"]["name"] == "grading-sweep"  # keda.yaml never scales it
    assert sweeper["spec"]["replicas"] == 1  # one deadline sweep, never two
    assert sweeper["spec"]["strategy"] == {"type": "Recreate"}  # not two during a rollout
    exchange = next(d for d in documents if d["kind"] == "Deployment"
                    and d["metadata"]["name"] == "exchange")
    assert exchange["spec"]["replicas"] == 2  # two behind the Service's one address
    assert exchange["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.fixture
def hub_config(tmp_path, monkeypatch, make_course):
    """The values' extraConfig run as the chart's hub runs it: ``c`` is the hub's config."""
    course = make_course()
    values = YAML(typ="safe").load(_filled((KUBE / "values.yaml").read_text()))
    for name, value in values["hub"]["extraEnv"].items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("COURSE_EXCHANGE_API_TOKEN", "exchange-token-from-the-secret")
    monkeypatch.setenv("COURSE_FORMGRADER_API_TOKEN", "formgrader-token-from-the-secret")
    monkeypatch.setenv("COURSE_DB_URL",
                       "postgresql+psycopg://course:from-the-secret@postgres:5432/gradebook")
    monkeypatch.setenv("COURSE_FILE", str(course / "course.yml"))
    c = Config()
    for name, code in sorted(values["hub"]["extraConfig"].items()):
        path = tmp_path / f"extraConfig-{name}.py"  # the chart's hub runs each snippet so
        path.write_text(code)
        runpy.run_path(str(path), init_globals={"c": c})
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    # read once at import by kubernetes_asyncio: point it at the offline kubeconfig
    from kubernetes_asyncio.config import kube_config

    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))
    return c


def test_values_load_hub_config(hub_config):
    c = hub_config
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    services = {s["name"]: s for s in c.JupyterHub.services}
    assert services["exchange"]["url"] == "http://exchange:8765"
    assert services["exchange"]["api_token"] == "exchange-token-from-the-secret"
    assert "command" not in services["exchange"]  # its own Deployment, not the hub's child
    # the formgrader: its own Deployment with its own token, never the hub pod's process
    formgrader = services["formgrader-dl-test"]
    assert formgrader["url"] == "http://formgrader:9999" and "command" not in formgrader
    assert formgrader["api_token"] == "formgrader-token-from-the-secret"
    db_url = services["roster-sync"]["environment"]["COURSE_DB_URL"]
    assert db_url == "postgresql+psycopg://course:from-the-secret@postgres:5432/gradebook"
    if "dashboard" in services:  # hub_config runs it when c.CourseHub.dashboard (the default)
        assert services["dashboard"]["url"] == "http://hub:8767"
        assert services["dashboard"]["command"][-2:] == ["--ip", "0.0.0.0"]
    assert c.Spawner.environment["COURSE_EXCHANGE_URL"] == "http://exchange:8765/services/exchange/"
    assert {"ada", "ben", "cleo", "ina"} <= set(c.Authenticator.allowed_users)
    assert [p["slug"] for p in c.KubeSpawner.profile_list] == ["gpu-1", "cpu"]


def _pod(config: Config, user: str, profile: str) -> dict:
    from kubernetes_asyncio.client import ApiClient
    from kubespawner import KubeSpawner

    async def build() -> dict:
        spawner = KubeSpawner(config=config, _mock=True,
                              user=SimpleNamespace(name=user, id=1, url=f"/user/{user}/"))
        spawner.user_options = {"profile": profile}
        await spawner.load_user_options()
        pod = await spawner.get_pod_manifest()
        async with ApiClient() as api:
            return api.sanitize_for_serialization(pod)

    return asyncio.run(build())


def test_generated_pods_validate_and_ask_for_gpus(hub_config):
    gpu = _pod(hub_config, "ada", "gpu-1")
    cpu = _pod(hub_config, "ben", "cpu")
    for pod in (gpu, cpu):
        assert kubernetes_validate.validate(pod, K8S_VERSION, strict=True) == "1.31"  # or raises
    container = gpu["spec"]["containers"][0]
    assert container["image"] == "registry.course.internal:5000/course-singleuser:0123456789ab-gpu"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert gpu["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in \
        gpu["spec"]["tolerations"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert env["COURSE_EXCHANGE_URL"] == "http://exchange:8765/services/exchange/"
    cpu_container = cpu["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in (cpu_container["resources"].get("limits") or {})
    assert not cpu["spec"].get("nodeSelector")


def test_a_profile_needs_a_gpu():
    from hub_config.kube_gpu import gpu_profiles

    with pytest.raises(ValueError, match="at least one GPU"):
        gpu_profiles("img", gpu_counts=(0,))
    assert [p["default"] for p in gpu_profiles("img", gpu_counts=(1, 2))] == [True, False]
