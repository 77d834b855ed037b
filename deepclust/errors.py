"""Errors a user can cause. The CLI prints them as one line, without a traceback."""


class UserError(Exception):
    """A problem with the user's input or settings; the message names the problem and the fix."""
