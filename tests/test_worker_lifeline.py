"""Scan workers exit when the scan process dies, however it dies (no models needed here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import alive

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")

PARENT = """
import ctypes, multiprocessing as mp, os, sys, threading, time
from photoclust.scan import die_with_parent

def child(parent_pid, pdeathsig):
    die_with_parent(parent_pid, pdeathsig)
    got = ctypes.c_int(-1)
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(2, ctypes.byref(got), 0, 0, 0)  # PR_GET_PDEATHSIG
    print("pdeathsig", got.value, flush=True)
    time.sleep(600)

if __name__ == "__main__":
    where, pdeathsig = sys.argv[1], sys.argv[2] == "1"
    procs = []
    def start():
        p = mp.get_context("spawn").Process(target=child, args=(os.getpid(), pdeathsig))
        p.start()
        procs.append(p)
    if where == "thread":  # spawned from a thread that ends at once, like a pool made in a worker thread
        t = threading.Thread(target=start)
        t.start()
        t.join()
    else:
        start()
    print("child", procs[0].pid, flush=True)
    time.sleep(600)
"""


@pytest.mark.parametrize(
    "where, pdeathsig, expect_signal",
    [("main", True, int(signal.SIGKILL) if sys.platform.startswith("linux") else 0), ("thread", False, 0)],
)
def test_a_worker_dies_within_seconds_of_its_parent(
    tmp_path: Path, where: str, pdeathsig: bool, expect_signal: int
) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), where, "1" if pdeathsig else "0"], stdout=subprocess.PIPE, text=True
    )
    child = -1
    try:
        assert parent.stdout is not None
        lines = [parent.stdout.readline().split(), parent.stdout.readline().split()]
        info = {line[0]: int(line[1]) for line in lines}
        child = info["child"]
        # the kernel's parent-death signal is set only where it is safe (the pool's thread is the main one)
        assert info["pdeathsig"] == expect_signal
        # the parent lives: so does the worker, also after the thread that spawned it has ended
        time.sleep(2.5)
        assert alive({child}) == {child}
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        t0 = time.monotonic()
        while alive({child}) and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        assert not alive({child}), "the worker outlived its killed parent"
    finally:
        if child > 0 and alive({child}):
            os.kill(child, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
        parent.communicate()
