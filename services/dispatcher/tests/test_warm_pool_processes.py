"""process_tree walks down /proc/<pid>/task/<tid>/children (a few reads per
execution, every supervision pass) and finds exactly what a scan of all of /proc
finds: every live descendant, grandchildren in sessions of their own included."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from leoflow_common.testing import assert_eventually
from leoflow_dispatcher.backends.local import processes

SPAWNER = textwrap.dedent("""
    import subprocess, sys, time
    # a child in this session, and a grandchild that left for a session of its own
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                      "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True); "
                      "time.sleep(60)"])
    time.sleep(60)
""")


@pytest.mark.skipif(not processes._HAS_CHILDREN_FILES, reason="this kernel has no /proc/<pid>/task/<tid>/children")
async def test_walking_down_finds_what_a_full_scan_finds():
    root = subprocess.Popen([sys.executable, "-c", SPAWNER])  # noqa: ASYNC220 - started once, not awaited on
    try:

        async def three_descendants():
            return len(processes.process_tree({root.pid})[root.pid]) == 3

        await assert_eventually(three_descendants, timeout=30)
        walked = processes.process_tree({root.pid})
        scanned = processes._scan_proc({root.pid})
        assert sorted(walked[root.pid], key=lambda p: p.pid) == sorted(scanned[root.pid], key=lambda p: p.pid)
        assert all(identity.start_time is not None for identity in walked[root.pid])
    finally:
        for identity in processes.process_tree({root.pid})[root.pid]:
            processes.signal_process(identity, 9)
        root.kill()
        root.wait()


def test_a_root_that_is_gone_has_no_descendants():
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert processes.process_tree({gone.pid}) == {gone.pid: []}
