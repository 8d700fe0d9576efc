"""Log set-up for both programs' command lines."""

from __future__ import annotations

import logging
import os
import sys


def setup_logging(level: str) -> None:
    """Log to stderr at `level`; under systemd the journal adds its own timestamps."""
    stamp = "" if os.environ.get("JOURNAL_STREAM") else "%(asctime)s "
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format=f"{stamp}%(levelname)s %(name)s: %(message)s")
