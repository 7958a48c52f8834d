"""Errors that end a command with one clear line and a documented exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2


class KamError(Exception):
    """An error the user can act on; the CLI prints its message as one line."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(KamError):
    """kam.yml, a command-line option or a rule setting is wrong."""


class InputError(KamError):
    """An export (or a set of exports) could not be loaded."""


class GateFailed(KamError):
    """A blocking quality check failed; nothing was published."""

    exit_code = EXIT_GATE_FAILED
