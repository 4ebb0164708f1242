"""Errors a user can fix: the CLI prints their one-line message and exits with status 2."""


class UserError(Exception):
    """Bad input or environment, with a message that says what is wrong and how to fix it."""


class ConfigError(UserError):
    """The configuration file is missing, not YAML, or does not match the schema."""
