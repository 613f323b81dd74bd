# The formgrader service's server (this folder is on its $JUPYTER_CONFIG_PATH).
c = get_config()  # noqa: F821
# Its JupyterLab shows the formgrader in a frame of its own (Nbgrader > Formgrader, and the
# Course List's ?formgrader=true): JupyterHub's default 'none' refuses that; 'self' lets only
# pages of this hub's origin frame it.
c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}
# MathJax for the grading page (grading_page.py), from Debian's libjs-mathjax
# (scripts/install-system-deps.sh): <service>/static/MathJax.js
c.ServerApp.extra_static_paths = ["/usr/share/javascript/mathjax"]
c.ServerApp.jpserver_extensions.update({"hub_config.formgrader.grading_page": True})
