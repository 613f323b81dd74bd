# nbgrader in a student's (or instructor's) server: the course exchange over HTTP.
# The hub puts this folder on $JUPYTER_CONFIG_PATH and sets $COURSE_ID and $COURSE_EXCHANGE_URL.
import os

from exchange.client import configure

c = get_config()  # noqa: F821
configure(c, course_id=os.environ.get("COURSE_ID"))
