"""The detector's user-facing error, in a module of its own so the CLI can catch it without importing torch."""


class ModelError(Exception):
    """The model cannot be loaded or run; the message is one line a user can act on."""


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (torch and Ultralytics write pages), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
