"""Parts chosen by name, found through Python entry points.

A course picks an LMS export format (``course export --format canvas``), a late rule
(``policy: {late: missed}``) or a wiki format by a short name. Each name is an entry point in a
group, pointing at a class; the platform's own parts are declared in its ``pyproject.toml`` the
same way a plug-in package declares its own, as JupyterHub finds ``spawner_class = "simple"``:

    [project.entry-points."dl_course.late_rules"]
    missed = "course.late_rules.missed:Missed"

A ``Registry`` is a read-only mapping from those names to the classes. Its order is the one
messages and docs list: the names in ``first`` (the built-in parts, as the README lists them),
then the others in the order their distributions are installed on the path (a wheel lists its
entry points sorted by name, so the order in ``pyproject.toml`` is not kept).
Listing names imports nothing; a class is imported when it is first looked up, so a broken
plug-in breaks only the choice of it. The group is read once per process; ``refresh()`` reads
it again (a test that installs a distribution on ``sys.path`` calls it).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from .errors import UserError

__all__ = ["Registry", "UnknownPart", "one_of"]

T = TypeVar("T")


def one_of(names: list[str] | tuple[str, ...]) -> str:
    """``'a', 'b' or 'c'``: the choices as a validation message names them."""
    quoted = [repr(name) for name in names]
    if len(quoted) < 2:
        return quoted[0] if quoted else "nothing (none is installed)"
    return f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class Registry(Mapping[str, type[T]], Generic[T]):
    """The subclasses of ``base`` registered under the entry point ``group``, by name. ``kind``
    names a part in messages ("export format"); ``registry[name]`` of an unknown name raises
    ``UserError("unknown <kind> 'x': choose one of a, b, c")``, a ``KeyError`` too. ``first``:
    the names to list first, in that order, where installed."""

    def __init__(self, group: str, base: type[T], kind: str, *, first: tuple[str, ...] = ()):
        self.group, self.base, self.kind, self.first = group, base, kind, first
        self._points: dict[str, importlib.metadata.EntryPoint] | None = None
        self._loaded: dict[str, type[T]] = {}

    def refresh(self) -> None:
        """Forget what was read: the next lookup reads the installed entry points again."""
        self._points, self._loaded = None, {}

    def _entry_points(self) -> dict[str, importlib.metadata.EntryPoint]:
        if self._points is None:
            found: dict[str, importlib.metadata.EntryPoint] = {}
            for point in importlib.metadata.entry_points(group=self.group):
                found.setdefault(point.name, point)  # the first on the path wins
            order = [name for name in self.first if name in found]
            self._points = {name: found[name] for name in [*order, *found]}
        return self._points

    def __getitem__(self, name: str) -> type[T]:
        if name in self._loaded:
            return self._loaded[name]
        point = self._entry_points().get(name)
        if point is None:
            raise UnknownPart(f"unknown {self.kind} {name!r}: choose one of {', '.join(self)}")
        cls = point.load()
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise UserError(f"the {self.kind} {name!r} ({point.value}, entry point group "
                            f"{self.group}) is not a subclass of {self.base.__qualname__}")
        self._loaded[name] = cls
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._entry_points())

    def __len__(self) -> int:
        return len(self._entry_points())

    def __contains__(self, name: object) -> bool:
        return name in self._entry_points()

    def __repr__(self) -> str:
        return f"Registry({self.group!r}: {', '.join(self)})"


class UnknownPart(UserError, KeyError):
    """A name no installed entry point of the group has; the message lists the choices."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])
