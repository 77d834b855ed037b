"""Errors a user can cause. The CLI prints them as one line, without a traceback."""


class UserError(ValueError):
    """A problem with the user's input or settings; the message names the problem and the fix. A ValueError, as
    scikit-learn raises for bad parameters and data, so code written for its estimators catches ours too."""
