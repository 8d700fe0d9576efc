"""Runs the registered probes; a probe that raises never stops the agent.

A failing probe's components and checks become `unknown` with the error in
their detail (see `snapshot.failed_probe_result`). The error is logged once
when it appears or changes, and once when the probe recovers — a broken probe
would otherwise log every two seconds for weeks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from agent.config import AgentConfig
from agent.probes.base import Probe, ProbeEnv, ProbeFactory, ProbeResult
from agent.probes.registry import registry
from agent.state_machine import (
    HeartbeatBuilder,
    StationStateMachine,
    failed_probe_result,
    merge_results,
)
from pantau import __version__
from pantau.wire import Heartbeat

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class ProbeRunner:
    def __init__(
        self,
        config: AgentConfig,
        env: ProbeEnv,
        factories: Mapping[str, ProbeFactory] | None = None,
    ) -> None:
        self._config, self._env = config, env
        self._factories = dict(registry() if factories is None else factories)
        self._probes: dict[str, Probe] = {}
        self._errors: dict[str, str] = {}
        self.last: dict[str, ProbeResult] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._factories)

    @property
    def errors(self) -> dict[str, str]:
        """Probes that failed on their last run, with the error."""
        return dict(self._errors)

    def run(self, names: Iterable[str]) -> ProbeResult:
        """Run `names` now; every other probe contributes its last result."""
        for name in names:
            self.last[name] = self._run_one(name)
        return merge_results(self.last[name] for name in self._factories if name in self.last)

    def _run_one(self, name: str) -> ProbeResult:
        try:
            result = self._probe(name).probe()
        except Exception as exc:  # any probe bug or OS error must not stop the loop
            self._note_error(name, describe_error(exc))
            return failed_probe_result(self._config, name, describe_error(exc))
        if name in self._errors:
            log.info("%s probe works again", name)
            del self._errors[name]
        return result

    def _probe(self, name: str) -> Probe:
        # Built lazily and retried until it works: a missing libusb or an
        # unreadable sysfs at start may be fixed without restarting the agent.
        probe = self._probes.get(name)
        if probe is None:
            probe = self._probes[name] = self._factories[name](self._config, self._env)
        return probe

    def _note_error(self, name: str, error: str) -> None:
        if self._errors.get(name) != error:
            log.warning("%s probe failed, its parts are reported unknown: %s", name, error)
        self._errors[name] = error


def probe_once(config: AgentConfig, env: ProbeEnv) -> tuple[Heartbeat, dict[str, str]]:
    """What `run` would publish right now, without a broker: for `pantau-agent probe`.

    The USB probe debounces absences over `debounce_polls` polls; a one-shot
    look polls that often back to back so a missing part is reported as such.
    """
    runner = ProbeRunner(config, env)
    names = [n for n in runner.names if n != "host" or config.host.enabled]
    result = runner.run(names)
    for _ in range(max(0, config.usb.debounce_polls - 1)):
        result = runner.run([n for n in names if n == "usb"])
    machine = StationStateMachine(config.site, config.station, "probe")
    observation = machine.observe(result, env.clock())
    builder = HeartbeatBuilder(config, "probe", __version__)
    return builder.build(observation, result.host, env.clock(), 0.0), runner.errors
