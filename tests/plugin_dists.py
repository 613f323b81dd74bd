"""A plug-in package installed for one test: its modules and a ``<name>.dist-info`` folder (the
metadata and entry points pip would write) in a fresh folder put first on ``sys.path``, where
``importlib.metadata`` finds it as it finds any installed distribution."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from course.late_rules import LATE_RULES
from course.lms import LMS_FORMATS
from course.wiki.formats import FORMATS as WIKI_FORMATS

REGISTRIES = (LMS_FORMATS, LATE_RULES, WIKI_FORMATS)


def refresh_registries() -> None:
    for registry in REGISTRIES:
        registry.refresh()


class PluginInstaller:
    def __init__(self, site: Path, monkeypatch: pytest.MonkeyPatch):
        self.site, self.monkeypatch, self.modules = site, monkeypatch, []

    def __call__(self, dist: str, *, modules: dict[str, str],
                 entry_points: dict[str, dict[str, str]]) -> None:
        """Install the distribution ``dist``: ``modules`` (name -> source) and ``entry_points``
        (group -> name -> "module:Class"), as ``[project.entry-points."group"]`` declares them."""
        self.site.mkdir(exist_ok=True)
        for name, source in modules.items():
            (self.site / f"{name}.py").write_text(textwrap.dedent(source))
            self.modules.append(name)
        info = self.site / f"{dist}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text("".join(
            f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
            for group, points in entry_points.items()))
        if str(self.site) not in sys.path:
            self.monkeypatch.syspath_prepend(str(self.site))  # also invalidates import caches
        refresh_registries()

    def uninstall_all(self) -> None:
        for name in self.modules:
            sys.modules.pop(name, None)
        refresh_registries()  # read again on next use, after monkeypatch restores sys.path


def plugin_installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The body of a test module's fixture: ``yield from plugin_installer(tmp_path, monkeypatch)``
    gives ``install(dist, modules=..., entry_points=...)``, all gone after the test."""
    installer = PluginInstaller(tmp_path / "site-packages", monkeypatch)
    yield installer
    installer.uninstall_all()
