"""Starting, health-checking and stopping a real server process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional, Sequence


def cache_dir() -> Path:
    """Where built servers live: $ONTASK_CACHE, default ~/.cache/ontask."""
    return Path(os.environ.get("ONTASK_CACHE", Path.home() / ".cache" / "ontask"))


def bin_path(name: str) -> Path:
    """A built server binary; a clear error says how to build it when it is missing."""
    path = cache_dir() / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make servers` (scripts/servers/build.sh) first")
    return path


def upstream_crds() -> Path:
    """The folder of the real CRDs of KServe's InferenceService and the training operator's
    PyTorchJob, as scripts/servers/build.sh fetched them from their Go modules."""
    path = cache_dir() / "crds"
    if not (path / ".complete").exists():
        raise FileNotFoundError(f"{path} is missing: run `make servers` (scripts/servers/build.sh crds) first")
    return path


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class ServerProcess:
    """One server process with its log file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path, env: Optional[dict[str, str]] = None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.workdir = workdir
        self.env = env
        self.log_path = workdir / f"{name}.log"
        self.proc: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> "ServerProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.workdir,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,  # its own process group, so stop() reaches its children too
        )
        log.close()
        return self

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the server has used so far: what a benchmark
        charges to it when it shares the machine's cores with the code it measures."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_until(self, check: Callable[[], bool], timeout: float = 60.0, what: str = "healthy") -> None:
        """Poll check() until it is true; fail with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if check():
                    return
            except Exception:  # noqa: BLE001 - a server that is starting fails checks in many ways
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not {what} after {timeout:.0f}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.running:
            return
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.running:
            assert self.proc is not None
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
