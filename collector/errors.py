"""The collector's errors that stop it from starting (exit code 1).

Config and registry refusals are `pantau.config.ConfigError` (exit 2). Bad
messages never raise out of ingest: they are counted and logged.
"""

from __future__ import annotations


class CollectorError(Exception):
    """The collector cannot start; the message says what is wrong and what to do."""
