# An example jupyterhub_config.py for a course: `jupyterhub -f hub_config/jupyterhub_config.py`.
# Copy it and set what your site needs; `course hub` (make hub) writes its own for local use.
import os

from hub_config import apply

c = get_config()  # noqa: F821
c.CourseHub.course_file = os.environ.get("COURSE_FILE", "/srv/course/course.yml")
c.CourseHub.authenticator = os.environ.get("COURSE_HUB_AUTHENTICATOR", "")  # no default
c.CourseHub.simple_password = os.environ.get("COURSE_HUB_PASSWORD", "")
c.CourseHub.spawner = os.environ.get("COURSE_HUB_SPAWNER", "local")
# one GPU server with 8 GPUs, one per user:
# c.CourseHub.gpu_devices = {"gpu01": [str(i) for i in range(8)]}
apply(c)
