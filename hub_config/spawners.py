"""The spawner, chosen by ``c.CourseHub.spawner``, and GPU placement for the container ones.

local
    JupyterHub's SimpleLocalProcessSpawner: each user's server is a process of the hub's own
    user with its home under ``c.CourseHub.home_root``. No isolation: development and tests.
docker
    DockerSpawner (``pip install dockerspawner``) on one GPU server. Set after ``apply(c)``::

        c.DockerSpawner.image = "course-singleuser:latest"   # has this package installed
        c.DockerSpawner.network_name = "jupyterhub"
        c.JupyterHub.hub_ip = "0.0.0.0"
        c.CourseHub.exchange_url = "http://jupyterhub:8000/services/exchange/"  # before apply

    ``extra_host_config`` is a callable that places the user's GPUs (``device_requests`` with
    the chosen device ids); the placement is given back when the server stops.
kube
    KubeSpawner (``pip install jupyterhub-kubespawner``, e.g. through the Zero-to-JupyterHub
    chart) on many GPU servers. The placement picks the node and the number of GPUs
    (``extra_resource_limits = {"nvidia.com/gpu": n}`` and a ``kubernetes.io/hostname`` node
    selector); the NVIDIA device plugin on that node picks the physical devices.

With ``c.CourseHub.gpu_devices`` empty no GPUs are requested. When none is free the spawn fails
with NoGpuFree's message ("no GPU free for ada: 1 requested, 0 of 16 slots free ...").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets.config import Config

from .gpu_placement import GpuPool

__all__ = ["configure_spawner", "docker_host_config", "kube_pre_spawn_hook", "release_gpus"]


def docker_host_config(pool: GpuPool, count: int):
    """DockerSpawner's ``extra_host_config`` callable: the user's GPUs as device requests."""

    def host_config(spawner) -> dict:
        placement = pool.place(spawner.user.name, count)
        return {"device_requests": [{"driver": "nvidia", "device_ids": list(placement.device_ids),
                                     "capabilities": [["gpu"]]}]}

    return host_config


def kube_pre_spawn_hook(pool: GpuPool, count: int):
    """KubeSpawner ``pre_spawn_hook``: the node and the number of GPUs for the pod."""

    def hook(spawner) -> None:
        placement = pool.place(spawner.user.name, count)
        spawner.extra_resource_limits = {**spawner.extra_resource_limits,
                                         "nvidia.com/gpu": str(len(placement.device_ids))}
        spawner.node_selector = {**spawner.node_selector,
                                 "kubernetes.io/hostname": placement.node}

    return hook


def release_gpus(pool: GpuPool):
    """``post_stop_hook``: the user's GPUs go back to the pool."""

    def hook(spawner) -> None:
        pool.release(spawner.user.name)

    return hook


def configure_spawner(c: Config, hub) -> None:
    if hub.spawner == "local":
        c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
        c.SimpleLocalProcessSpawner.home_dir_template = str(Path(hub.home_root) / "{username}")
        c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]  # this environment's
        if os.geteuid() == 0:  # jupyter_server refuses root without it
            c.Spawner.args = ["--allow-root"]
        return
    pool = GpuPool(hub.gpu_devices, users_per_gpu=hub.users_per_gpu) if hub.gpu_devices else None
    if hub.spawner == "docker":
        c.JupyterHub.spawner_class = "docker"
        c.DockerSpawner.remove = True
        if pool is not None:
            c.DockerSpawner.extra_host_config = docker_host_config(pool, hub.gpus_per_user)
    else:
        c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
        if pool is not None:
            c.KubeSpawner.pre_spawn_hook = kube_pre_spawn_hook(pool, hub.gpus_per_user)
    if pool is not None:
        c.Spawner.post_stop_hook = release_gpus(pool)
