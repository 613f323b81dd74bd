"""The formgrader's grading page typesets maths with MathJax from this server, not a CDN.

nbgrader renders the page with its own HTMLExporter, whose template folders it sets itself
(overriding any configuration), and its template asks nbconvert's ``mathjax()`` macro for the
CDN's URL. Once nbgrader's formgrader extension has loaded, this puts ``templates/formgrade/``
first among that exporter's template folders: its ``mathjax.html.j2`` gives the macro a URL on
this server, where ``jupyter_server_config.py`` serves Debian's libjs-mathjax as static files.
"""

from __future__ import annotations

from pathlib import Path

from tornado.ioloop import IOLoop

TEMPLATES = str(Path(__file__).resolve().parent / "templates" / "formgrade")


def local_mathjax(settings: dict) -> bool:
    """Put TEMPLATES first in the formgrader's exporter; False if there is none (yet)."""
    exporter = settings.get("nbgrader_exporter")
    if exporter is None:
        return False
    if TEMPLATES not in exporter.template_paths:
        exporter.template_paths = [TEMPLATES, *exporter.template_paths]
    return True


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp):
    # extensions load in name order, so nbgrader's formgrader comes after this one
    def attempt(tries: int) -> None:
        if local_mathjax(serverapp.web_app.settings):
            return
        if tries:
            IOLoop.current().call_later(0.2, attempt, tries - 1)
        else:
            serverapp.log.warning("no nbgrader formgrader here: its grading page keeps "
                                  "nbconvert's MathJax URL")

    attempt(300)  # a minute
