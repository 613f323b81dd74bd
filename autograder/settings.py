"""The platform's grading defaults, held once.

A course file's ``grading:`` blocks (``course.settings.resolve_grading``), nbgrader's
``SandboxedGrading`` traits, ``Timeouts`` and ``SandboxLimits`` all take their defaults from
``DEFAULTS``; ``GradingSettings.options`` is the one place the settings become the engine's
``GradingOptions``. This module imports nothing of the engine at load time: the sandbox and the
client import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["BACKENDS", "DEFAULTS", "ISOLATION_MODES", "GradingSettings", "setting_help"]

ISOLATION_MODES = ("auto", "bwrap", "unshare", "none")
BACKENDS = ("local", "celery")


@dataclass(frozen=True)
class GradingSettings:
    """Limits for grading one submission (the keys of a course file's ``grading:`` block)."""

    notebook_timeout: float = field(
        default=300.0, metadata={"help": "seconds to run all of the notebook's cells"})
    call_timeout: float = field(
        default=60.0, metadata={"help": "seconds for one call from a grader"})
    memory_mb: int = field(
        default=4096, metadata={"help": "memory cap of the student's process tree, in MiB"})
    isolation: str = field(
        default="auto", metadata={"help": " | ".join(ISOLATION_MODES)})
    workers: int | None = field(
        default=None, metadata={"help": "submissions graded at once (none: the machine's cores)"})
    backend: str = field(
        default="local", metadata={"help": "local (a process pool on this machine) | celery "
                                           "(one job per submission on the broker's workers)"})
    broker: str | None = field(
        default=None, metadata={"help": "the celery backend's broker, amqp://user:pass@host/vhost"})
    gpu: bool = field(
        default=False, metadata={"help": "grade on a GPU worker (celery's gpu queue)"})

    def options(self, gpu_devices: tuple[str, ...] = ()):
        """These settings as the engine's ``GradingOptions`` (``workers`` is the caller's)."""
        from .client import Timeouts
        from .engine import GradingOptions
        from .sandbox import SandboxLimits

        return GradingOptions(
            limits=SandboxLimits(memory_bytes=self.memory_mb * 2**20, isolation=self.isolation,
                                 gpu_devices=tuple(gpu_devices)),
            timeouts=Timeouts(notebook=self.notebook_timeout, call=self.call_timeout))


DEFAULTS = GradingSettings()


def setting_help(name: str) -> str:
    """What the setting ``name`` measures, for help texts."""
    return {f.name: f.metadata["help"] for f in fields(GradingSettings)}[name]
