"""The registry's `install_by`: a rollout deadline on a site or a planned station (docs/parts.md).

    [sites.medan-baru]
    install_by = 2026-12-31          # a TOML date, no quotes: every planned station of the site

    [stations.medan-baru-07]
    install_by = 2026-11-30          # this station's own (it wins for this station)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from collector.errors import RegistryError
from pantau.config import describe

HINT = "expected a TOML date like 2026-12-31 (no quotes, no time of day)"


def install_by(file: str, prefix: str, table: Mapping[str, object]) -> date | None:
    if "install_by" not in table:
        return None
    value = table["install_by"]
    if isinstance(value, datetime) or not isinstance(value, date):
        got = "a date with a time of day" if isinstance(value, datetime) else describe(value)
        raise RegistryError(file, f"{prefix}.install_by", f"{HINT}, got {got}")
    return value
