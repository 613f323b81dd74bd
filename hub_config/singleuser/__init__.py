"""Users' servers on the hub: nbgrader_config.py and jupyter_server_config.py (this folder is
on their $JUPYTER_CONFIG_PATH), the server extension course_formgrader, JupyterLab's settings
overrides (``lab_settings/``) and the students' Lab page config (``student/labconfig/``)."""

from pathlib import Path

__all__ = ["LAB_SETTINGS", "STUDENT_CONFIG"]

HERE = Path(__file__).resolve().parent
LAB_SETTINGS = HERE / "lab_settings"  # JupyterLab's app settings dir: overrides.json
STUDENT_CONFIG = HERE / "student"  # on students' $JUPYTER_CONFIG_PATH too: labconfig/
