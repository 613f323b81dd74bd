"""deploy/kubernetes/keda.yaml checked offline: kubernetes-validate has no schema for KEDA's
custom resources, so the fields and types of KEDA's ScaledObject and TriggerAuthentication (as
KEDA's documentation gives them) are checked here, strictly (an unknown or mistyped field
fails), and so are the cross-references: each ScaledObject scales a Deployment of course.yaml
that is not the deadline sweep, on a queue the platform declares, with the broker's address from
a key that the course-secrets Secret (``course env``) has.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy" / "kubernetes"
GRADING_GPUS = 16  # the grading nodes' GPUs (course.yaml, deploy/README.md: 2 servers x 8)

# The schema, from KEDA 2.x's documentation: the ScaledObject specification
# (https://keda.sh/docs/2.15/reference/scaledobject-spec/), authentication
# (https://keda.sh/docs/2.15/concepts/authentication/: secretTargetRef parameter/name/key) and
# the RabbitMQ Queue scaler (https://keda.sh/docs/2.13/scalers/rabbitmq-queue/). A dict maps a
# field to (schema, required); [schema]: a list of it; "str-map": string keys and values.
METADATA = {"name": (str, True), "namespace": (str, False), "labels": ("str-map", False),
            "annotations": ("str-map", False)}
SCALE_TARGET = {"apiVersion": (str, False), "kind": (str, False), "name": (str, True),
                "envSourceContainerName": (str, False)}
TRIGGER = {"type": (str, True), "name": (str, False), "metadata": ("str-map", True),
           "authenticationRef": ({"name": (str, True), "kind": (str, False)}, False),
           "metricType": (str, False), "useCachedMetrics": (bool, False)}
SCALED_OBJECT = {
    "apiVersion": (str, True), "kind": (str, True), "metadata": (METADATA, True),
    "spec": ({"scaleTargetRef": (SCALE_TARGET, True), "pollingInterval": (int, False),
              "cooldownPeriod": (int, False), "initialCooldownPeriod": (int, False),
              "idleReplicaCount": (int, False), "minReplicaCount": (int, False),
              "maxReplicaCount": (int, False), "fallback": (dict, False),
              "advanced": (dict, False), "triggers": ([TRIGGER], True)}, True)}
TRIGGER_AUTHENTICATION = {
    "apiVersion": (str, True), "kind": (str, True), "metadata": (METADATA, True),
    "spec": ({"secretTargetRef": ([{"parameter": (str, True), "name": (str, True),
                                    "key": (str, True)}], False),
              "env": (list, False), "configMapTargetRef": (list, False),
              "podIdentity": (dict, False), "hashiCorpVault": (dict, False)}, True)}
# the rabbitmq trigger's metadata parameters; host comes from the TriggerAuthentication
RABBITMQ = {"host", "hostFromEnv", "protocol", "mode", "value", "activationValue", "queueName",
            "vhostName", "unsafeSsl", "timeout", "excludeUnacknowledged", "useRegex",
            "pageSize", "operation"}
RABBITMQ_CHOICES = {"protocol": {"auto", "amqp", "http"}, "mode": {"QueueLength", "MessageRate"}}


def problems(value, schema, where: str = "") -> list[str]:
    """What in ``value`` does not fit ``schema``, one line each (nothing: it fits)."""
    where = where.lstrip(".")
    if schema == "str-map":
        if not isinstance(value, dict):
            return [f"{where}: not a map"]
        return [f"{where}.{k}: not a string" for k, v in value.items()
                if not (isinstance(k, str) and isinstance(v, str))]
    if isinstance(schema, list):
        if not isinstance(value, list) or not value:
            return [f"{where}: not a non-empty list"]
        return [p for i, item in enumerate(value) for p in problems(item, schema[0],
                                                                   f"{where}[{i}]")]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        found = [f"{where}.{k}: unknown field" for k in value if k not in schema]
        for name, (inner, required) in schema.items():
            if name in value:
                found += problems(value[name], inner, f"{where}.{name}")
            elif required:
                found.append(f"{where}.{name}: missing")
        return found
    # bool is an int in Python: a count must not be true/false
    if not isinstance(value, schema) or (schema is int and isinstance(value, bool)):
        return [f"{where}: not {schema.__name__}"]
    return []


def rabbitmq_problems(trigger: dict) -> list[str]:
    metadata = trigger["metadata"]
    found = [f"rabbitmq trigger: unknown parameter {k}" for k in metadata if k not in RABBITMQ]
    found += [f"rabbitmq trigger: {k}={metadata[k]!r}" for k, choices in RABBITMQ_CHOICES.items()
              if k in metadata and metadata[k] not in choices]
    if "queueName" not in metadata:
        found.append("rabbitmq trigger: no queueName")
    try:
        if float(metadata.get("value", "")) <= 0:
            found.append("rabbitmq trigger: value must be positive")
    except ValueError:
        found.append("rabbitmq trigger: value is not a number")
    return found


def _documents(name: str) -> list[dict]:
    return [d for d in YAML(typ="safe").load_all((KUBE / name).read_text()) if d]


def _keda() -> tuple[dict[str, dict], dict[str, dict]]:
    documents = _documents("keda.yaml")
    for document in documents:
        assert document["apiVersion"] == "keda.sh/v1alpha1", document["metadata"]
        schema = {"ScaledObject": SCALED_OBJECT,
                  "TriggerAuthentication": TRIGGER_AUTHENTICATION}[document["kind"]]
        assert problems(document, schema) == [], document["metadata"]["name"]
    by_kind: dict[str, dict[str, dict]] = {"ScaledObject": {}, "TriggerAuthentication": {}}
    for document in documents:
        by_kind[document["kind"]][document["metadata"]["name"]] = document
    return by_kind["ScaledObject"], by_kind["TriggerAuthentication"]


def test_the_checker_refuses_what_keda_would():
    """The structural check can fail: each of these is a mistake KEDA's API server refuses."""
    good = _documents("keda.yaml")
    scaled = next(d for d in good if d["kind"] == "ScaledObject")
    assert problems(scaled, SCALED_OBJECT) == []
    spec = scaled["spec"]
    cases = {
        "spec.maxReplicas: unknown field": {**spec, "maxReplicas": 3},
        "spec.minReplicaCount: not int": {**spec, "minReplicaCount": "1"},
        "spec.scaleTargetRef.name: missing": {**spec, "scaleTargetRef": {"kind": "Deployment"}},
        "spec.triggers: not a non-empty list": {**spec, "triggers": []},
        "spec.triggers[0].metadata.value: not a string": {
            **spec, "triggers": [{**spec["triggers"][0],
                                  "metadata": {**spec["triggers"][0]["metadata"], "value": 8}}]},
    }
    for expected, broken in cases.items():
        assert problems({**scaled, "spec": broken}, SCALED_OBJECT) == [expected]
    trigger = spec["triggers"][0]
    assert rabbitmq_problems({**trigger, "metadata": {**trigger["metadata"],
                                                      "mode": "Length"}}) \
        == ["rabbitmq trigger: mode='Length'"]
    assert rabbitmq_problems({"metadata": {"mode": "QueueLength", "value": "x"}}) \
        == ["rabbitmq trigger: no queueName", "rabbitmq trigger: value is not a number"]


def test_keda_scales_the_workers_on_their_queues_and_never_the_sweep():
    from course.fleet.app import QUEUES

    scaled, auths = _keda()
    deployments = {d["metadata"]["name"]: d for d in _documents("course.yaml")
                   if d["kind"] == "Deployment"}
    assert sorted(scaled) == ["grading-cpu", "grading-gpu"]
    queues = {}
    for document in scaled.values():
        spec = document["spec"]
        target = spec["scaleTargetRef"]
        assert (target.get("apiVersion", "apps/v1"), target.get("kind", "Deployment")) \
            == ("apps/v1", "Deployment")
        deployment = deployments[target["name"]]  # a Deployment of course.yaml
        command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
        assert "--beat" not in command  # the sweep stays one replica: never scaled
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "rabbitmq"
        assert rabbitmq_problems(trigger) == []
        assert "host" not in trigger["metadata"]  # the password stays in the Secret
        queue = trigger["metadata"]["queueName"]
        assert queue in QUEUES  # a queue the platform declares
        assert command[command.index("--queue") + 1] == queue  # the one its workers take from
        assert trigger["authenticationRef"]["name"] in auths
        queues[queue] = spec
    assert set(queues) == {"cpu", "gpu"}
    assert queues["gpu"]["maxReplicaCount"] == GRADING_GPUS  # one worker per GPU, no more
    gpu = deployments["grading-gpu"]["spec"]["template"]["spec"]["containers"][0]
    assert gpu["resources"]["limits"]["nvidia.com/gpu"] == "1"
    (sweep,) = [d for d in deployments.values() if "--beat" in
                d["spec"]["template"]["spec"]["containers"][0]["command"]]
    assert sweep["spec"]["replicas"] == 1
    assert sweep["metadata"]["name"] not in {s["spec"]["scaleTargetRef"]["name"]
                                             for s in scaled.values()}


@pytest.fixture(scope="module")
def secret_keys(tmp_path_factory) -> set[str]:
    """The keys of course-secrets: `kubectl create secret --from-env-file` of `course env`."""
    env_file = tmp_path_factory.mktemp("secrets") / "course.env"
    subprocess.run([str(Path(sys.executable).parent / "course"), "env", "--out", str(env_file)],
                   check=True, capture_output=True, timeout=60)
    return {line.split("=", 1)[0] for line in env_file.read_text().splitlines()
            if "=" in line and not line.startswith("#")}


def test_the_broker_address_comes_from_a_key_of_the_course_secret(secret_keys):
    _, auths = _keda()
    (auth,) = auths.values()
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref["parameter"] == "host"  # the rabbitmq trigger's address, with its password
    assert ref["name"] == "course-secrets" and ref["key"] in secret_keys
    assert ref["key"] == "COURSE_BROKER_URL"  # the address the workers themselves use
