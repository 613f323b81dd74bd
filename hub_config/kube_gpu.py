"""KubeSpawner on a cluster of GPU servers: the profiles students choose from, and KubeSpawner
with GPU placement that outlives a hub restart; imported by the hub only, so only it needs
jupyterhub-kubespawner.

On Kubernetes the cluster places GPUs: a profile asks for ``nvidia.com/gpu: n`` (the NVIDIA
device plugin picks the physical devices on the node), selects GPU nodes by the label NVIDIA's
GPU feature discovery sets, and tolerates the taint that keeps other pods off them. The
Zero-to-JupyterHub values in deploy/kubernetes/ set ``c.KubeSpawner.profile_list =
gpu_profiles(...)``; the tests build pods from the same call. ``GpuKubeSpawner`` (hub-side
placement from ``c.CourseHub.gpu_devices``) remains for clusters without the device plugin.
"""

from __future__ import annotations

from kubespawner import KubeSpawner

from .spawners import GpuPlacement

__all__ = ["GPU_NODE_SELECTOR", "GPU_RESOURCE", "GPU_TOLERATION", "GpuKubeSpawner",
           "gpu_profiles"]

GPU_RESOURCE = "nvidia.com/gpu"
GPU_NODE_SELECTOR = {"nvidia.com/gpu.present": "true"}  # set by NVIDIA GPU feature discovery
GPU_TOLERATION = {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}


class GpuKubeSpawner(GpuPlacement, KubeSpawner):
    """KubeSpawner; the user's node and GPUs are kept in its state (see GpuPlacement)."""


def gpu_profiles(image: str, *, gpu_counts: tuple[int, ...] = (1,), cpu_image: str = "",
                 mem_limit: str = "24G", cpu_limit: float = 2.0) -> list[dict]:
    """KubeSpawner's ``profile_list``: one profile per GPU count in ``gpu_counts`` (the first
    is the default), then a CPU-only one on any node when ``cpu_image`` is given.

    The memory and CPU limits per user fit 8 users on a node of 8 GPUs, 24 cores and 256 GB
    with room for the grading workers."""
    common = {"mem_limit": mem_limit, "mem_guarantee": mem_limit, "cpu_limit": cpu_limit,
              "cpu_guarantee": cpu_limit / 2}
    profiles = []
    for count in gpu_counts:
        if count < 1:
            raise ValueError("a GPU profile needs at least one GPU")
        profiles.append({
            "display_name": f"{count} GPU" + ("s" if count > 1 else ""),
            "slug": f"gpu-{count}",
            "description": f"JupyterLab with TensorFlow on {count} NVIDIA GPU"
                           + ("s" if count > 1 else ""),
            "default": not profiles,
            "kubespawner_override": {
                **common, "image": image,
                "extra_resource_limits": {GPU_RESOURCE: str(count)},
                "extra_resource_guarantees": {GPU_RESOURCE: str(count)},
                "node_selector": dict(GPU_NODE_SELECTOR),
                "tolerations": [dict(GPU_TOLERATION)],
                "environment": {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}}})
    if cpu_image:
        profiles.append({"display_name": "CPU only", "slug": "cpu",
                         "description": "JupyterLab without a GPU (reading, small models)",
                         "kubespawner_override": {**common, "image": cpu_image}})
    return profiles
