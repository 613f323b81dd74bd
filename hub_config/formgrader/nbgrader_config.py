# nbgrader in the formgrader service: the course folder itself, and the course exchange over HTTP.
# The hub sets $COURSE_FILE and $COURSE_EXCHANGE_URL and puts this folder on $JUPYTER_CONFIG_PATH.
import os

from course.workspace import open_workspace
from exchange.client import configure

c = get_config()  # noqa: F821
ws = open_workspace(os.environ["COURSE_FILE"])
ws.sync_gradebook()  # Manage Students: the roster's names and emails, as the course file says
# merged once, at start-up: what can change while it runs is read again where it is used
# (the feedback level from the course file at each page: course.feedback_level_step)
c.merge(ws.nbgrader_config())
# due dates and submission times in the course's zone (nbgrader's NbGraderAPI.timezone)
configure(c, course_id=ws.course.id, timezone=ws.course.timezone)
