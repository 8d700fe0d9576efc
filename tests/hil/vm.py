"""Boot the cached guest kernel under QEMU with emulated USB devices.

The guest reaches only the host's loopback broker, through QEMU user-mode
networking (`restrict=on` + a `guestfwd` that runs `busybox nc` per connection).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.hil.qmp import Qmp

HERE = Path(__file__).parent
GUEST_BROKER = "10.0.2.101:1883"


class QemuGuest:
    def __init__(self, workdir: Path, command: str, broker_port: int, devices: list[str]) -> None:
        self.workdir = workdir
        self.qmp_path = workdir / "qmp.sock"
        netdev = (
            "user,id=n0,restrict=on,"
            f"guestfwd=tcp:{GUEST_BROKER}-cmd:busybox nc 127.0.0.1 {broker_port}"
        )
        args = [
            str(HERE / "run-vm.sh"),
            str(workdir),
            str(self.qmp_path),
            command,
            "-netdev",
            netdev,
            "-device",
            "virtio-net-pci,netdev=n0",
            "-device",
            "qemu-xhci,id=xhci,p2=8,p3=8",
        ]
        for dev in devices:
            args += ["-device", dev]
        self.lines: list[tuple[float, str]] = []
        self._cv = threading.Condition()
        self._log = open(workdir / "serial.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.qmp = Qmp(str(self.qmp_path))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._log.write(line)
            self._log.flush()
            with self._cv:
                self.lines.append((time.monotonic(), line.rstrip()))
                self._cv.notify_all()

    def wait_line(self, pred: Callable[[str], bool], timeout: float) -> str:
        def found() -> str | None:
            return next((text for _, text in self.lines if pred(text)), None)

        with self._cv:
            if (
                not self._cv.wait_for(
                    lambda: found() is not None or self.proc.poll() is not None, timeout
                )
                or found() is None
            ):
                raise AssertionError(
                    f"guest did not print the expected line in {timeout}s; "
                    f"see {self.workdir / 'serial.log'}"
                )
            return found()  # type: ignore[return-value]

    def device_add(self, driver: str, dev_id: str, port: int, **props: object) -> float:
        at = time.monotonic()
        self.qmp.command(
            "device_add", driver=driver, id=dev_id, bus="xhci.0", port=str(port), **props
        )
        return at

    def device_del(self, dev_id: str) -> float:
        at = time.monotonic()
        self.qmp.command("device_del", id=dev_id)
        self.qmp.wait_event("DEVICE_DELETED", at, device=dev_id)
        return at

    def kill(self) -> None:
        """Pull the plug: no clean shutdown, so the broker must send the agent's Will."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        self.kill()
        self.qmp.close()
        self._log.close()
