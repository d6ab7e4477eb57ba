"""The one exception type users see. The CLI prints its message on one line and exits non-zero."""


class HeadwaterError(Exception):
    """An error the user can act on: the message names the thing and what is wrong."""

    exit_code = 1


class ConfigError(HeadwaterError):
    """Configuration (YAML, environment) is missing or malformed."""

    exit_code = 2
