"""The one exception type for user-facing store errors."""


class StoreError(Exception):
    """A mistake the user can fix: the message is one line saying what is wrong and how to fix it.

    CLIs print it as ``error: <message>`` and exit with status 2, without a traceback.
    """
