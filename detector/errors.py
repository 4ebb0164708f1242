"""The detector's user-facing error, in a module of its own so the CLI can catch it without importing torch."""


class ModelError(Exception):
    """The model cannot be loaded or run; the message is one line a user can act on."""
