"""The install test's marker: `make test-install` runs it, `make test` leaves it out."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "install: installs the .debs of `make dist` in a Debian 12 root and runs "
        "the install docs (make test-install)")
