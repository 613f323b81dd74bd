"""Users' servers on the hub: nbgrader_config.py and jupyter_server_config.py (this folder is
on their $JUPYTER_CONFIG_PATH) and the server extension course_formgrader."""
