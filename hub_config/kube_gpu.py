"""KubeSpawner with GPU placement that outlives a hub restart (``c.CourseHub.spawner = "kube"``
with ``gpu_devices``); imported by the hub only, so only it needs jupyterhub-kubespawner."""

from kubespawner import KubeSpawner

from .spawners import GpuPlacement

__all__ = ["GpuKubeSpawner"]


class GpuKubeSpawner(GpuPlacement, KubeSpawner):
    """KubeSpawner; the user's node and GPUs are kept in its state (see GpuPlacement)."""
