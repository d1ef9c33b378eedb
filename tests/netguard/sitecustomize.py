"""The tests' network guard for every Python process they start (CLI runs, scans and their workers).

``tests/conftest.py`` puts this folder on ``PYTHONPATH``, so Python imports this module at start-up in each
subprocess, and in each worker those spawn (they inherit the environment). Any connection to a host that
is not this machine fails with ``OSError(ENETUNREACH)``, as on a machine with no network; Unix sockets and
loopback connections work.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(sock: socket.socket, address: object) -> bool:
    if sock.family == socket.AF_UNIX:
        return True
    host = address[0] if isinstance(address, tuple) and address else None
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _refuse(address: object) -> OSError:
    msg = f"photoclust tests: network connection to {address!r} blocked (no network in tests)"
    print(msg, file=sys.stderr, flush=True)
    return OSError(errno.ENETUNREACH, msg)


def _connect(self: socket.socket, address: object) -> None:
    if not _is_local(self, address):
        raise _refuse(address)
    return _real_connect(self, address)  # type: ignore[arg-type]


def _connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(self, address):
        raise _refuse(address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


socket.socket.connect = _connect  # type: ignore[method-assign]
socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]
