"""Errors a user can cause and fix: the CLI prints the message and exits with status 2."""


class UserError(Exception):
    """A bad input (file, field, id) described in one sentence that says what to do."""
