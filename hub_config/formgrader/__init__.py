"""The formgrader service's server: nbgrader_config.py and jupyter_server_config.py (this folder
is on its $JUPYTER_CONFIG_PATH) and the server extension grading_page."""
