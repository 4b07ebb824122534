"""Starts the real ``switchyard`` binary for the tests: ``SWITCHYARD_BIN`` names it (the Rust
test crates/cli/tests/clients.rs runs these tests with the binary it built)."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A ``switchyard serve`` on a port of its own, with a data directory that outlives restarts."""

    def __init__(self, binary: str, data_dir: Path) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""

    def start(self) -> None:
        log = open(self.data_dir.parent / "server.log", "ab")
        self.process = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"switchyard serve exited with {self.process.returncode}; see server.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("switchyard serve did not listen within 60 s")
        self.token = (self.data_dir / "admin.token").read_text().strip()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def server() -> Iterator[Server]:
    binary = os.environ.get("SWITCHYARD_BIN")
    if not binary:
        pytest.fail("SWITCHYARD_BIN must name the switchyard binary (crates/cli/tests/clients.rs sets it)")
    with tempfile.TemporaryDirectory() as work:
        server = Server(binary, Path(work) / "data")
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def hello_wasm() -> bytes:
    path = os.environ.get("SWITCHYARD_TEST_HELLO_WASM")
    if not path:
        pytest.fail("SWITCHYARD_TEST_HELLO_WASM must name the example hello component")
    return Path(path).read_bytes()
