"""Errors a user can cause and fix: the CLI prints the message and exits with status 2."""


class UserError(Exception):
    """A bad input (file, field, id) described in one sentence that says what to do."""


class UnknownId(UserError, LookupError):
    """An id (student, assignment, session) that the course does not know: exit status 2 in
    the CLI, 404 in the exchange. A ``LookupError`` too, so callers that ask "is it known?"
    with ``except LookupError`` keep working; a bare ``KeyError`` is a bug, never this."""


class GradebookMissing(UserError):
    """No gradebook where the URL points: only ``course init`` and ``course upgrade`` create one,
    so a moved ``gradebook.db`` or a mistyped URL never starts an empty gradebook."""

    def __init__(self, url: str):
        self.url = url
        super().__init__(
            f"no gradebook at {url}: if this is a new course, run `course upgrade` to create "
            "it; otherwise it was moved or the URL is wrong ($COURSE_DB_URL, else gradebook.url "
            "in the course file, else gradebook.db beside it)")


class GradebookUnusable(UserError):
    """A gradebook URL that cannot be used: it does not parse, it names a driver that is not
    installed, or (to create a gradebook) its folder does not exist. A server that cannot be
    reached or a file that is no database keep their driver's error, so that a service can
    tell a passing outage (``course.gradebook.failures``)."""
