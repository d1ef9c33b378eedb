"""No network, ever: also in the processes the tests start (CLI runs, scans and their spawned workers)."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading

PROBE = textwrap.dedent(
    """
    import multiprocessing as mp, socket, sys

    def attempt(address):
        try:
            socket.create_connection(address, timeout=3).close()
            return "connected"
        except OSError as exc:
            return "refused: " + str(exc)

    if __name__ == "__main__":
        address = (sys.argv[1], int(sys.argv[2]))
        if sys.argv[3] == "worker":  # like a scan's worker: a spawned process, the environment inherited
            with mp.get_context("spawn").Pool(1) as pool:
                print(pool.apply(attempt, (address,)))
        else:
            print(attempt(address))
    """
)


def probe(tmp_path, host: str, port: int, where: str) -> str:  # type: ignore[no-untyped-def]
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    out = subprocess.run(
        [sys.executable, str(script), host, str(port), where], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_subprocess_cannot_reach_the_network_in_itself_or_its_workers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # 192.0.2.1 is TEST-NET-1: the attempt must fail in the guard, before any packet, with its message
    for where in ("process", "worker"):
        result = probe(tmp_path, "192.0.2.1", 80, where)
        assert result.startswith("refused:") and "photoclust tests: network connection" in result, result
        assert "192.0.2.1" in result and "blocked" in result


def test_loopback_still_works_in_subprocesses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    port = server.getsockname()[1]

    def serve() -> None:
        for _ in range(2):
            conn, _ = server.accept()
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        assert probe(tmp_path, "127.0.0.1", port, "process") == "connected"
        assert probe(tmp_path, "127.0.0.1", port, "worker") == "connected"
    finally:
        t.join(timeout=10)
        server.close()
