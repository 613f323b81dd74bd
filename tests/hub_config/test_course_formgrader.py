"""Users' servers on the hub lead to the course's formgrader service, and offer none of their
own: the hub's per-user environment, the server config and the Course List's entries.
(tests/hub_config/test_formgrader_browser.py walks it in a real browser.)"""

from pathlib import Path
from types import SimpleNamespace

from small_courses import REPO, configured, course_text
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from hub_config.singleuser.course_formgrader import SERVICE_ENV, formgrader_courses

COURSE = course_text(graders=("gus",), students=("ada",))


def _environment(tmp_path, **settings) -> dict:
    course_file = tmp_path / "course.yml"
    course_file.write_text(COURSE)
    return configured(course_file, **settings).Spawner.environment


def _for(environment: dict, user: str) -> dict:
    spawner = SimpleNamespace(user=SimpleNamespace(name=user))
    return {k: (v(spawner) if callable(v) else v) for k, v in environment.items()}


def test_staff_get_the_formgrader_service_students_none(tmp_path):
    env = _environment(tmp_path)
    assert _for(env, "ina")[SERVICE_ENV] == "formgrader-dl-test"
    assert _for(env, "gus")[SERVICE_ENV] == "formgrader-dl-test"
    assert _for(env, "ada")[SERVICE_ENV] == ""
    assert SERVICE_ENV not in _environment(tmp_path, formgrader=False)


def test_course_list_names_the_service_and_no_local_formgrader(monkeypatch):
    monkeypatch.setenv("COURSE_ID", "dl-test")
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", "/jhub/")
    monkeypatch.setenv(SERVICE_ENV, "formgrader-dl-test")
    assert formgrader_courses("https://hub.example.org") == [{
        "course_id": "dl-test", "kind": "jupyterhub",
        "url": "https://hub.example.org/jhub/services/formgrader-dl-test/lab?formgrader=true"}]
    monkeypatch.setenv(SERVICE_ENV, "")  # a student
    assert formgrader_courses("https://hub.example.org") == []


def test_users_servers_load_ours_in_place_of_nbgraders_formgrader_and_course_list():
    config = PyFileConfigLoader("jupyter_server_config.py",
                                str(REPO / "hub_config" / "singleuser")).load_config()
    extensions = Config(ServerApp=config.ServerApp).ServerApp.jpserver_extensions
    extensions = extensions.get_value({"nbgrader.server_extensions.assignment_list": True})
    assert extensions == {"nbgrader.server_extensions.assignment_list": True,
                          "nbgrader.server_extensions.formgrader": False,
                          "nbgrader.server_extensions.course_list": False,
                          "hub_config.singleuser.course_formgrader": True}
    service = PyFileConfigLoader("jupyter_server_config.py",
                                 str(REPO / "hub_config" / "formgrader")).load_config()
    assert service.ServerApp.tornado_settings["headers"] == {
        "Content-Security-Policy": "frame-ancestors 'self'"}


def test_the_grading_page_takes_mathjax_from_the_service_not_a_cdn():
    """nbgrader's exporter as the formgrader builds it, before and after grading_page."""
    import re

    import nbformat
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader.handlers import template_path

    from hub_config.formgrader.grading_page import local_mathjax

    c = Config()
    c.HTMLExporter.template_name = "formgrade"
    c.HTMLExporter.extra_template_basedirs = [template_path]
    exporter = HTMLExporter(config=c)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("$x^2$")])

    def mathjax_scripts() -> list[str]:
        page, _ = exporter.from_notebook_node(notebook, resources={
            "base_url": "/services/formgrader-dl-test", "index": 0, "total": 1})
        return [src for src in re.findall(r'<script src="([^"]*)"', page) if "athJax" in src
                or "mathjax" in src]

    assert [src.split("/")[2] for src in mathjax_scripts()] == ["cdnjs.cloudflare.com"]
    assert not local_mathjax({})  # no formgrader (yet): nothing to change
    assert local_mathjax({"nbgrader_exporter": exporter})
    (src,) = mathjax_scripts()
    # the page is <service>/formgrader/submissions/<id>/: three up is the service's root
    assert src == "../../../static/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    service = PyFileConfigLoader("jupyter_server_config.py",
                                 str(REPO / "hub_config" / "formgrader")).load_config()
    (static,) = service.ServerApp.extra_static_paths
    assert (Path(static) / "MathJax.js").is_file()  # Debian's libjs-mathjax
    assert (Path(static) / "config" / "TeX-AMS_CHTML-full.js").is_file()
