"""Probes: `base` (shared types), `registry` (the explicit list), one module per probe."""
