"""The agent's errors that reach the person running it (exit code 2).

Config refusals are `pantau.config.ConfigError`; probe and publish failures
never surface as exceptions: they become `unknown` parts and logged warnings.
"""

from __future__ import annotations


class AgentError(Exception):
    """The command cannot do its job; the message says what is wrong and what to do."""


class UsageError(AgentError):
    """A problem with how the command was called."""


class JournalError(AgentError):
    """The on-disk event journal cannot be opened or written."""
