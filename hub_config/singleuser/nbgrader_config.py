# nbgrader in a student's (or instructor's) server: the course exchange over HTTP.
# The hub puts this folder on $JUPYTER_CONFIG_PATH and sets $COURSE_EXCHANGE_URL, $COURSE_IDS (the
# user's courses), $COURSE_ID (the one course, when there is only one) and $COURSE_TIMEZONE (the
# courses' time zone, when they share one).
import os

from exchange.client import configure

c = get_config()  # noqa: F821
configure(c, course_id=os.environ.get("COURSE_ID") or None,
          timezone=os.environ.get("COURSE_TIMEZONE") or None)
if len([i for i in os.environ.get("COURSE_IDS", "").split(",") if i]) > 1:
    # two courses may both have a 01-numpy: keep each course's assignments in its own folder
    c.Exchange.path_includes_course = True
