"""The service as operators run it: `python -m engagement_svc serve` in a child process, on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    """A port nothing listens on now (the system's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answering(process: subprocess.Popen, url: str, output: Callable[[], str], name: str, seconds: float = 60) -> None:
    """Returns once `url` answers; raises, with the process's output, if the process exits or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited {process.returncode}: {output()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start: {output()[-2000:]}") from None
            time.sleep(0.05)  # the poll's interval: what is awaited is the URL answering


class LiveServer:
    def __init__(self, mongo_url: str, command: list[str] | None = None, **env: str):
        """`command`: how to start it (`python -m engagement_svc serve` by default; an installed script, say)."""
        self.command = command or [sys.executable, "-m", "engagement_svc", "serve"]
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MONGO_URL": mongo_url,
            "ENGAGEMENT_PORT": str(self.port),
            "ENGAGEMENT_HOST": "127.0.0.1",
            **env,
        }
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LiveServer:
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        answering(self.process, self.base_url + "/healthz", self.output, "server")
        return self

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as an orchestrator stops it; the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
