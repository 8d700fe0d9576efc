"""Pantau's shared core: what the station agent and the collector both use.

The wire contract (`pantau.wire`), the config core (`pantau.config`,
`pantau.broker_config`), reconnect backoff, log throttling and sd_notify.
This package imports neither `agent` nor `collector`.
"""

# The one place the version is written: package metadata, `--version` and
# `pantau_build_info` all read it from here.
__version__ = "0.1.0"
