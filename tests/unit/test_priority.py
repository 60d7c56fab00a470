"""WORKER_NICE: the worker lowers its own CPU priority, and never tries to raise it."""

import os
import subprocess
import sys

import pytest

from market.settings import PROJECT_ROOT

PROBE = "from market.runtime.priority import lower_priority; import os, sys; " \
        "print(lower_priority(int(sys.argv[1])), os.nice(0))"


@pytest.mark.parametrize(("started_at", "worker_nice"), [(0, 10), (0, 0), (12, 10), (0, 19), (5, 5)])
def test_the_worker_runs_at_its_niceness_or_lower_priority(started_at, worker_nice):
    base = os.nice(0)  # the suite itself may run under `nice`: the child starts from here
    child = subprocess.run([sys.executable, "-c", PROBE, str(worker_nice)], cwd=PROJECT_ROOT, check=True,
                           capture_output=True, text=True, preexec_fn=lambda: os.nice(started_at))
    expected = max(min(base + started_at, 19), worker_nice)
    assert child.stdout.split() == [str(expected), str(expected)]
