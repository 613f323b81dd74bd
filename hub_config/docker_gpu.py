"""DockerSpawner with GPU placement that outlives a hub restart (``c.CourseHub.spawner =
"docker"`` with ``gpu_devices``); imported by the hub only, so only it needs dockerspawner."""

from dockerspawner import DockerSpawner

from .spawners import GpuPlacement

__all__ = ["GpuDockerSpawner"]


class GpuDockerSpawner(GpuPlacement, DockerSpawner):
    """DockerSpawner; the user's GPUs are kept in its state (see GpuPlacement)."""
