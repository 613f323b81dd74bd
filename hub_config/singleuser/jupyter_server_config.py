# Users' servers on the hub (this folder is on their $JUPYTER_CONFIG_PATH): no local formgrader
# (an instructor would author and grade in the wrong place); the Course List and the Formgrader
# menu lead to the course's formgrader service (hub_config.singleuser.course_formgrader).
c = get_config()  # noqa: F821
c.ServerApp.jpserver_extensions.update({
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.course_list": False,
    "hub_config.singleuser.course_formgrader": True,
})
