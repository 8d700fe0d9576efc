"""The collector's errors.

`CollectorError`: it cannot start (exit code 1). Config and registry
refusals are `pantau.config.ConfigError` (exit 2); `RegistryError` is the
registry's (fleet.toml and the holiday files it names). Bad messages never
raise out of ingest: they are counted and logged.
"""

from __future__ import annotations

from pantau.config import ConfigError


class CollectorError(Exception):
    """The collector cannot start; the message says what is wrong and what to do."""


class RegistryError(ConfigError):
    """A registry the collector refuses; the message is "file: key: reason"."""
