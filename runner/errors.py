"""The one exception type for user-facing runner errors."""


class RunnerError(Exception):
    """A mistake the user can fix: one line saying what is wrong and how to fix it.

    The CLI prints it as ``error: <message>`` and exits with status 2, without a traceback, and
    before anything is written to the store.
    """
