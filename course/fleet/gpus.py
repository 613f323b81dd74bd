"""The GPU a ``course worker --gpu`` grades on: found in the NVIDIA driver's
/proc/driver/nvidia/gpus/*/information by device minor (/dev/nvidiaN), UUID or as the one GPU
this container sees, then checked in a subprocess: TensorFlow, given that GPU's UUID as
CUDA_VISIBLE_DEVICES, must see exactly that GPU (its PCI bus id), or the worker refuses to start.

CUDA numbers devices fastest-first by default, not as the driver numbers its device nodes, so a
CUDA index and /dev/nvidiaN may name different GPUs: the sandbox is given the UUID (for CUDA) and
the minor (for the device node) separately, and CUDA_DEVICE_ORDER=PCI_BUS_ID is set besides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

__all__ = ["VISIBLE", "Gpu", "bus_id", "find_gpu", "read_gpus", "require_tensorflow_sees",
           "tensorflow_bus_ids"]

VISIBLE = "visible"  # --gpu visible: the one GPU of this container (Kubernetes' device plugin)
CHECK_TIMEOUT_S = 300  # importing TensorFlow and opening the device


@dataclass(frozen=True)
class Gpu:
    minor: int  # /dev/nvidia<minor>
    uuid: str  # GPU-...: CUDA_VISIBLE_DEVICES, whatever CUDA's order
    bus: str  # PCI bus id, as bus_id() writes it: what TensorFlow reports


def bus_id(text: str) -> str:
    """A PCI bus id as ``dddd:bb:dd.f``, lower case: the driver writes a 4-digit domain, nvidia-smi
    an 8-digit one, in either case."""
    try:
        domain, bus, rest = text.strip().lower().split(":")
        device, function = rest.split(".")
        return f"{int(domain, 16):04x}:{int(bus, 16):02x}:{int(device, 16):02x}.{int(function, 16)}"
    except ValueError:
        raise ValueError(f"not a PCI bus id: {text!r}") from None


def read_gpus(proc_root: str | Path = "/proc") -> list[Gpu]:
    """The GPUs the driver lists under ``proc_root``, by minor; none without the driver."""
    gpus = []
    for info in sorted(Path(proc_root, "driver", "nvidia", "gpus").glob("*/information")):
        fields = {}
        for line in info.read_text(errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        try:
            gpus.append(Gpu(int(fields["Device Minor"]), fields["GPU UUID"],
                            bus_id(fields["Bus Location"])))
        except (KeyError, ValueError) as exc:
            raise UserError(f"{info}: not the NVIDIA driver's GPU information ({exc})") from None
    return sorted(gpus, key=lambda gpu: gpu.minor)


def find_gpu(spec: str, proc_root: str | Path = "/proc") -> Gpu:
    """``--gpu``'s GPU: a device minor N (/dev/nvidiaN), a UUID (GPU-...), or ``visible``: the
    only GPU listed (a container given one GPU)."""
    gpus = read_gpus(proc_root)
    listed = ", ".join(f"{g.minor} ({g.uuid}, {g.bus})" for g in gpus) or "none"
    where = Path(proc_root, "driver", "nvidia", "gpus")
    if spec == VISIBLE:
        if len(gpus) != 1:
            raise UserError(f"--gpu {VISIBLE}: {len(gpus)} GPUs listed in {where} ({listed}); "
                            "name one by its minor number or UUID")
        return gpus[0]
    if spec.isdigit():
        found = [g for g in gpus if g.minor == int(spec)]
    elif spec.startswith("GPU-"):
        found = [g for g in gpus if g.uuid.lower() == spec.lower()]
    else:
        raise UserError(f"--gpu {spec!r}: give a device minor number (N of /dev/nvidiaN), a "
                        f"UUID (GPU-...) or {VISIBLE}")
    if not found:
        raise UserError(f"--gpu {spec}: no such GPU in {where}; the driver lists: {listed}")
    return found[0]


_PROBE = """
import json
from tensorflow.python.client import device_lib
print(json.dumps([d.physical_device_desc for d in device_lib.list_local_devices()
                  if d.device_type == "GPU"]))
"""


def tensorflow_bus_ids(gpu: Gpu, python: str = sys.executable,
                       timeout: float = CHECK_TIMEOUT_S) -> list[str]:
    """The PCI bus ids of the GPUs TensorFlow sees given ``gpu``'s UUID, in a subprocess (the
    worker itself never initialises CUDA: its pool's processes are forked)."""
    env = {**os.environ, "CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": gpu.uuid,
           "TF_CPP_MIN_LOG_LEVEL": "2", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    try:
        done = subprocess.run([python, "-c", _PROBE], env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise UserError(f"TensorFlow did not list its GPUs within {timeout:.0f} s") from None
    if done.returncode != 0:
        raise UserError("TensorFlow could not list its GPUs: "
                        + (done.stderr.strip().splitlines() or ["no output"])[-1])
    try:
        descriptions = json.loads((done.stdout.strip().splitlines() or [""])[-1])
    except json.JSONDecodeError:
        raise UserError(f"TensorFlow's device list was unreadable: {done.stdout[-200:]!r}") from None
    buses = []
    for description in descriptions:  # "device: 0, name: ..., pci bus id: 0000:3b:00.0, ..."
        parts = dict(part.split(": ", 1) for part in description.split(", ") if ": " in part)
        buses.append(bus_id(parts.get("pci bus id", "?")) if "pci bus id" in parts else "?")
    return buses


def require_tensorflow_sees(gpu: Gpu, seen: list[str]) -> None:
    """Refuse to grade unless TensorFlow saw exactly ``gpu``."""
    if seen != [gpu.bus]:
        raise UserError(
            f"--gpu {gpu.minor}: TensorFlow, given CUDA_VISIBLE_DEVICES={gpu.uuid}, sees "
            f"{len(seen)} GPU(s) ({', '.join(seen) or 'none'}), not that GPU alone (PCI "
            f"{gpu.bus}, /dev/nvidia{gpu.minor}): this worker would grade on the wrong device "
            "or none. Check the container's GPUs (nvidia-smi -L) and the TensorFlow build")
