# The formgrader service's server (this folder is on its $JUPYTER_CONFIG_PATH).
from hub_config.singleuser import LAB_SETTINGS

c = get_config()  # noqa: F821
# Its JupyterLab shows the formgrader in a frame of its own (Nbgrader > Formgrader, and the
# Course List's ?formgrader=true): JupyterHub's default 'none' refuses that; 'self' lets only
# pages of this hub's origin frame it.
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
# MathJax for the grading page (grading_page.py), from Debian's libjs-mathjax
# (scripts/install-system-deps.sh): <service>/static/MathJax.js
c.ServerApp.extra_static_paths = ["/usr/share/javascript/mathjax"]
c.ServerApp.jpserver_extensions.update({"hub_config.formgrader.grading_page": True})
# Nothing here runs code or writes files for whoever opens it, and each request is checked
# against the course file's roster as it is now (gate.py). A formgrader without the gate
# must not start at all, so a failing extension stops the server.
c.ServerApp.authorizer_class = "hub_config.formgrader.gate.FormgraderAuthorizer"
c.ServerApp.jpserver_extensions.update({"hub_config.formgrader.gate": True})
# Autograde as `course grade` does: the course's engine and isolation, the fleet where it has one
c.ServerApp.jpserver_extensions.update({"hub_config.formgrader.autograde": True})
c.ServerApp.reraise_server_extension_failures = True
c.ServerApp.terminals_enabled = False
# Offline like users' servers: no Jupyter news and no update check (hub_config.singleuser)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.app_settings_dir = str(LAB_SETTINGS)
