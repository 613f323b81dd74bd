"""Which user gets which GPUs: a pure policy, shared by DockerSpawner and KubeSpawner.

The pool is a map from node to the device ids on it (``{"gpu01": ["0", ..., "7"], ...}``).
A user asks for ``count`` GPUs and gets them all on one node:

- sticky: a user whose previous devices are free again gets the same ones back (warm caches,
  reproducible runs);
- spread: otherwise the node with the most free capacity, then the least loaded devices on it;
- shared when configured: ``users_per_gpu`` > 1 lets several users share a device (TensorFlow
  takes memory as it needs it: ``TF_FORCE_GPU_ALLOW_GROWTH=true`` in the single-user image);
- refused cleanly: ``NoGpuFree`` says how many were asked for and how many are free, and
  nothing is held.

No I/O and no clock: the hub calls ``place`` before a server starts and ``release`` after it
stops; ``restore`` puts back what a running server holds after a hub restart (its spawner's
saved state, see ``hub_config.spawners.GpuPlacement``). A hub has one pool: a deep copy (as
traitlets makes of every configured value, for each spawner) is the pool itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["GpuPool", "NoGpuFree", "Placement"]


class NoGpuFree(RuntimeError):
    """No node has enough free GPU capacity for the request."""


@dataclass(frozen=True)
class Placement:
    node: str
    device_ids: tuple[str, ...]


class GpuPool:
    def __init__(self, devices: Mapping[str, Sequence[str]], *, users_per_gpu: int = 1):
        if users_per_gpu < 1:
            raise ValueError("users_per_gpu must be at least 1")
        self.devices = {node: tuple(str(d) for d in ids) for node, ids in devices.items()}
        self.users_per_gpu = users_per_gpu
        self._held: dict[str, Placement] = {}
        self._last: dict[str, Placement] = {}

    def __deepcopy__(self, memo: dict) -> GpuPool:
        return self  # every spawner must see the same holdings

    @property
    def capacity(self) -> int:
        return sum(len(ids) for ids in self.devices.values()) * self.users_per_gpu

    def _load(self) -> dict[tuple[str, str], int]:
        load = {(node, d): 0 for node, ids in self.devices.items() for d in ids}
        for placement in self._held.values():
            for device in placement.device_ids:
                load[(placement.node, device)] += 1
        return load

    def holding(self, user: str) -> Placement | None:
        return self._held.get(user)

    def free(self) -> dict[str, int]:
        """Free slots per node (a device shared by ``users_per_gpu`` users has that many)."""
        load = self._load()
        return {node: sum(self.users_per_gpu - load[(node, d)] for d in ids)
                for node, ids in self.devices.items()}

    def place(self, user: str, count: int = 1) -> Placement:
        """The devices ``user`` gets (the ones held already, if any); NoGpuFree if none fit."""
        if user in self._held:
            return self._held[user]
        if count < 1:
            raise ValueError("count must be at least 1")
        load = self._load()

        def open_devices(node: str) -> list[str]:
            return [d for d in self.devices[node] if load[(node, d)] < self.users_per_gpu]

        previous = self._last.get(user)
        if (previous is not None and len(previous.device_ids) == count
                and previous.node in self.devices
                and set(previous.device_ids) <= set(open_devices(previous.node))):
            return self._hold(user, previous)
        best = None
        for node in sorted(self.devices):
            candidates = open_devices(node)
            if len(candidates) < count:
                continue
            chosen = sorted(candidates, key=lambda d: (load[(node, d)],
                                                       self.devices[node].index(d)))[:count]
            free_slots = sum(self.users_per_gpu - load[(node, d)] for d in self.devices[node])
            rank = (-free_slots, node)
            if best is None or rank < best[0]:
                best = (rank, Placement(node, tuple(chosen)))
        if best is None:
            free = self.free()
            raise NoGpuFree(
                f"no GPU free for {user}: {count} requested, "
                f"{sum(free.values())} of {self.capacity} slots free "
                f"({', '.join(f'{n}: {k}' for n, k in sorted(free.items())) or 'no GPU nodes'}); "
                "try again when someone stops their server")
        return self._hold(user, best[1])

    def _hold(self, user: str, placement: Placement) -> Placement:
        self._held[user] = placement
        return placement

    def release(self, user: str) -> Placement | None:
        placement = self._held.pop(user, None)
        if placement is not None:
            self._last[user] = placement
        return placement

    def restore(self, user: str, placement: Placement) -> None:
        """Record what a server that is already running holds (after a hub restart)."""
        unknown = [d for d in placement.device_ids if d not in self.devices.get(placement.node, ())]
        if unknown:
            raise ValueError(f"{user} holds unknown devices {unknown} on {placement.node!r}")
        self._held[user] = placement
