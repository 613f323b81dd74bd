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
    the chosen device ids).
kube
    KubeSpawner (``pip install jupyterhub-kubespawner``, e.g. through the Zero-to-JupyterHub
    chart) on many GPU servers. The placement picks the node and the number of GPUs
    (``extra_resource_limits = {"nvidia.com/gpu": n}`` and a ``kubernetes.io/hostname`` node
    selector); the NVIDIA device plugin on that node picks the physical devices.

With ``c.CourseHub.gpu_devices`` set, the spawner is the container spawner with ``GpuPlacement``
mixed in (``hub_config.docker_gpu.GpuDockerSpawner``, ``hub_config.kube_gpu.GpuKubeSpawner``):
the user's placement is kept in the spawner's state, so a restarted hub holds the GPUs of the
servers still running, and it goes back to the pool when the server stops. With
``gpu_devices`` empty no GPUs are requested. When none is free the spawn fails with NoGpuFree's
message ("no GPU free for ada: 1 requested, 0 of 16 slots free ...").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets import Instance
from traitlets.config import Config, LoggingConfigurable

from .gpu_placement import GpuPool, Placement

__all__ = ["STATE_KEY", "GpuPlacement", "configure_spawner", "docker_host_config",
           "kube_pre_spawn_hook"]

STATE_KEY = "gpu_placement"  # in the spawner's state: {"node": ..., "device_ids": [...]}


class GpuPlacement(LoggingConfigurable):
    """A spawner mixin: the user's GPUs, taken from the hub's one GpuPool, outlive a hub restart.

    Mix it in before the spawner class: ``class GpuDockerSpawner(GpuPlacement, DockerSpawner)``
    (JupyterHub's Spawner refuses subclasses without start, stop and poll, so this is none).
    The placement is made when the server starts (``docker_host_config``,
    ``kube_pre_spawn_hook``); this class keeps it in JupyterHub's spawner state:

    - ``get_state`` (saved after the server has started) adds the user's placement;
    - ``load_state`` (each spawner built again after a hub restart) holds it again in the new
      pool (``GpuPool.restore``), so a second user cannot get the same devices;
    - ``clear_state`` (after the server stops, and before each start) gives it back.
    """

    gpu_pool = Instance(GpuPool, allow_none=True,
                        help="the GPUs of this hub, shared by all its spawners "
                             "(configure_spawner sets it from c.CourseHub.gpu_devices)").tag(
        config=True)

    def get_state(self) -> dict:
        state = super().get_state()
        placement = self.gpu_pool.holding(self.user.name) if self.gpu_pool else None
        if placement is not None:
            state[STATE_KEY] = {"node": placement.node, "device_ids": list(placement.device_ids)}
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        saved = state.get(STATE_KEY)
        if saved is None or self.gpu_pool is None:
            return
        try:
            placement = Placement(str(saved["node"]), tuple(str(d) for d in saved["device_ids"]))
            self.gpu_pool.restore(self.user.name, placement)
        except (KeyError, TypeError, ValueError) as exc:  # e.g. the node left gpu_devices
            self.log.warning("GPUs of %s not restored from %r: %s", self.user.name, saved, exc)

    def clear_state(self) -> None:
        super().clear_state()
        if self.gpu_pool is not None:
            self.gpu_pool.release(self.user.name)


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
            c.JupyterHub.spawner_class = "hub_config.docker_gpu.GpuDockerSpawner"
            c.DockerSpawner.extra_host_config = docker_host_config(pool, hub.gpus_per_user)
    else:
        c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
        if pool is not None:
            c.JupyterHub.spawner_class = "hub_config.kube_gpu.GpuKubeSpawner"
            c.KubeSpawner.pre_spawn_hook = kube_pre_spawn_hook(pool, hub.gpus_per_user)
    if pool is not None:
        c.GpuPlacement.gpu_pool = pool  # the hooks and every spawner's state: one pool
