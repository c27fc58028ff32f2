"""sway's IPC (the i3 IPC protocol) over its Unix socket ($SWAYSOCK): a message is the 6-byte
magic `i3-ipc`, the payload's length and the message type (two 32-bit integers in the machine's
byte order), then the payload; a reply has the same header and a JSON payload. See sway-ipc(7).
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from ontask.agent.desktop import DesktopUnavailable

MAGIC = b"i3-ipc"
_HEADER = struct.Struct("=6sII")

# Message types (sway-ipc(7)).
RUN_COMMAND = 0
GET_OUTPUTS = 3
GET_TREE = 4


class SwayIPCError(DesktopUnavailable):
    """The socket could not be reached, or it answered something that is not sway's IPC: the
    desktop cannot be read, and the message says why."""


class SwayIPC:
    """One connection to a sway IPC socket; requests are answered in order."""

    def __init__(self, path: str, timeout: float = 10.0):
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except OSError as e:
            self._sock.close()
            raise SwayIPCError(f"cannot connect to sway's IPC socket {path}: {e}") from e

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> "SwayIPC":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def request(self, kind: int, payload: str = "") -> Any:
        """Send one message of type `kind` and return its reply's JSON."""
        body = payload.encode()
        try:
            self._sock.sendall(_HEADER.pack(MAGIC, len(body), kind) + body)
            magic, length, reply_kind = _HEADER.unpack(self._read(_HEADER.size))
            if magic != MAGIC or reply_kind != kind:
                raise SwayIPCError(f"{self.path} answered a message that is not sway's IPC reply to type {kind}")
            return json.loads(self._read(length))
        except (OSError, ValueError) as e:
            raise SwayIPCError(f"sway's IPC socket {self.path} failed: {e}") from e

    def _read(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self._sock.recv(n - len(data))
            if not chunk:
                raise SwayIPCError(f"sway closed its IPC socket {self.path} mid-reply")
            data += chunk
        return bytes(data)

    def tree(self) -> dict[str, Any]:
        """The layout tree: outputs, workspaces, containers and windows (GET_TREE)."""
        return self.request(GET_TREE)

    def outputs(self) -> list[dict[str, Any]]:
        """The outputs with their logical rectangle and scale (GET_OUTPUTS)."""
        return self.request(GET_OUTPUTS)

    def command(self, command: str) -> list[dict[str, Any]]:
        """Run sway commands (RUN_COMMAND), e.g. `[title="notes"] focus`; one result per command."""
        return self.request(RUN_COMMAND, command)
