"""Errors a user can cause and fix: the CLI prints the message and exits with status 2."""


class UserError(Exception):
    """A bad input (file, field, id) described in one sentence that says what to do."""


class UnknownId(UserError, LookupError):
    """An id (student, assignment, session) that the course does not know: exit status 2 in
    the CLI, 404 in the exchange. A ``LookupError`` too, so callers that ask "is it known?"
    with ``except LookupError`` keep working; a bare ``KeyError`` is a bug, never this."""
