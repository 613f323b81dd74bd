# Users' servers on the hub (this folder is on their $JUPYTER_CONFIG_PATH): no local formgrader
# (an instructor would author and grade in the wrong place); the Course List and the Formgrader
# menu lead to the course's formgrader service (hub_config.singleuser.course_formgrader).
import os

from hub_config.singleuser import LAB_SETTINGS, STUDENT_CONFIG

c = get_config()  # noqa: F821
c.ServerApp.jpserver_extensions.update({
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.course_list": False,
    "hub_config.singleuser.course_formgrader": True,
})
# Students (the hub's $COURSE_ROLE) get no Create Assignment, Formgrader or Course List in
# JupyterLab: nbgrader's Lab plugins are disabled in student/labconfig/page_config.json, which
# JupyterLab reads from every folder on $JUPYTER_CONFIG_PATH each time it serves its page.
if os.environ.get("COURSE_ROLE") == "student":
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        filter(None, [str(STUDENT_CONFIG), os.environ.get("JUPYTER_CONFIG_PATH", "")]))
# The servers are offline: no Jupyter news and no update check, and nobody is asked about them
# (lab_settings/overrides.json: fetchNews "false", checkForUpdates false).
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.app_settings_dir = str(LAB_SETTINGS)
