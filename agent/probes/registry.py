"""The explicit probe registry: one probe per file, one class each, listed here.

Imports are local so `pantau-agent probe --help` stays fast and a station
without displays or network checks never loads those modules.
"""

from __future__ import annotations

from typing import ClassVar

from agent.config import AgentConfig
from agent.probes.base import Probe, ProbeEnv, ProbeFactory, ProbeResult


def registry() -> dict[str, ProbeFactory]:
    """Probe name → factory, in the order the probes run."""
    from agent.probes.host import HostProbe
    from agent.probes.usb.probe import UsbProbe

    return {
        "usb": UsbProbe,
        "display": _display_probe,
        "host": HostProbe,
        "checks": _checks_probe,
    }


# Most stations configure no network checks, and some no display: then the probe
# would report nothing anyway, so its module (and what it imports) is never loaded.

class _NoDisplays:
    name: ClassVar[str] = "display"

    def probe(self) -> ProbeResult:
        return ProbeResult()


class _NoChecks:
    name: ClassVar[str] = "checks"

    def probe(self) -> ProbeResult:
        return ProbeResult()


def _display_probe(config: AgentConfig, env: ProbeEnv) -> Probe:
    if not any(c.kind == "display" for c in config.components):
        return _NoDisplays()
    from agent.probes.display import DisplayProbe

    return DisplayProbe(config, env)


def _checks_probe(config: AgentConfig, env: ProbeEnv) -> Probe:
    if not config.checks:
        return _NoChecks()
    from agent.probes.checks import ChecksProbe

    return ChecksProbe(config, env)
