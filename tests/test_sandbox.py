"""The sandbox: tests counted one by one, failures explained, and hangs, memory hogs, sockets and floods contained."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from prep import sandbox

QUICK = sandbox.Limits(seconds=2.0, cpu_seconds=5)


def test_each_assert_block_and_each_test_function_counts_once() -> None:
    code = "def double(x):\n    return 2 * x\n"
    tests = ("y = double(2)\nassert y == 4\nassert double(0) == 0\n"
             "def test_negative():\n    assert double(-1) == -2\n"
             "def test_wrong():\n    assert double(3) == 7, 'three'\n"
             "def helper():\n    return 1\n")
    result = sandbox.run(code, tests, QUICK)
    assert (result.passed, result.failed) == (3, 1)
    assert [test.name for test in result.tests] == ["assert y == 4", "assert double(0) == 0", "test_negative",
                                                    "test_wrong"]
    assert result.first_failure == "test_wrong: assertion failed at `assert double(3) == 7, 'three'` (three)"
    assert result.failure_line == 7
    assert not result.ok


def test_a_failing_comparison_shows_both_sides() -> None:
    result = sandbox.run("def f():\n    return [1, 2]\n", "assert f() == [2, 1]\n", QUICK)
    assert result.first_failure == "assert f() == [2, 1]: assertion failed (left: [1, 2], right: [2, 1])"
    assert result.failure_line == 1


def test_a_passing_run_is_ok_and_numpy_is_available() -> None:
    code = "import numpy as np\ndef norm(v):\n    return float(np.linalg.norm(v))\n"
    result = sandbox.run(code, "import math\nassert math.isclose(norm([3, 4]), 5.0)\n", QUICK)
    assert result.ok and (result.passed, result.failed) == (1, 0)
    assert result.first_failure == ""


def test_code_that_does_not_run_fails_every_way_it_can() -> None:
    broken = sandbox.run("def f(:\n", "assert f()\n", QUICK)
    assert not broken.ok and broken.first_failure.startswith("the code itself failed: SyntaxError")
    raising = sandbox.run("x = 1\nraise RuntimeError('boom')\n", "assert x\n", QUICK)
    assert raising.first_failure == "the code itself failed: RuntimeError (line 2): boom"
    empty = sandbox.run("x = 1\n", "x = 2\n", QUICK)
    assert not empty.ok and "no tests found" in empty.first_failure


def test_an_infinite_loop_is_stopped_at_the_time_limit() -> None:
    result = sandbox.run("def f():\n    while True:\n        pass\n", "assert f()\nassert True\n", QUICK)
    assert result.timed_out and not result.ok
    assert result.first_failure == "assert f(): timed out"


def test_a_hang_outside_python_is_killed_with_its_children(tmp_path: Path) -> None:
    # the alarm that stops Python code is ignored here: only the kill of the whole process group ends it
    pid_file = tmp_path / "child.pid"
    code = ("import signal, subprocess, sys, time\n"
            "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
            f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
            "time.sleep(60)\n")
    result = sandbox.run(code, "assert True\n", sandbox.Limits(seconds=1.0, cpu_seconds=5))
    assert result.timed_out and result.first_failure == "stopped: over the time limit (1 s)"
    child = int(pid_file.read_text())
    for _ in range(200):  # SIGKILL is sent; wait (a little) for the kernel to finish it
        if not _alive(child):
            break
        time.sleep(0.01)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_memory_beyond_the_limit_is_refused() -> None:
    result = sandbox.run("import numpy as np\ndef big():\n    return np.ones((1 << 30,))\n",
                         "assert big().sum() > 0\n", sandbox.Limits(seconds=5.0, memory_mb=700))
    assert result.memory_exceeded and not result.ok
    assert "ran out of memory" in result.first_failure


def test_sockets_are_refused_and_the_environment_is_bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("PREP_SECRET_FOR_TEST", "visible?")
    code = "import os, socket\n"
    tests = ("def test_socket():\n    socket.socket()\n"
             "def test_connect():\n    socket.create_connection(('127.0.0.1', 9))\n"
             "def test_c_module():\n    import _socket\n    _socket.socket()\n"
             "assert 'HTTPS_PROXY' not in os.environ and 'PREP_SECRET_FOR_TEST' not in os.environ\n"
             f"assert os.getcwd() != {str(tmp_path)!r}\n"
             "open('scratch.txt', 'w').write('x')\n"
             "assert os.path.exists('harness.py')\n")
    monkeypatch.chdir(tmp_path)
    result = sandbox.run(code, tests, QUICK)
    assert [test.passed for test in result.tests] == [False, False, False, True, True, True]
    assert all("network access is disabled" in test.message for test in result.tests[:3])
    assert not (tmp_path / "scratch.txt").exists()


def test_the_working_folder_is_removed_afterwards() -> None:
    result = sandbox.run("import os\nhere = os.getcwd()\nprint(here)\n", "assert here\n", QUICK)
    folder = result.output.strip()
    assert folder and not os.path.exists(folder)


def test_output_is_captured_and_truncated_raw() -> None:
    result = sandbox.run("print('\\x1b[31mred')\nprint('y' * 100000)\n", "assert True\n",
                         sandbox.Limits(seconds=2.0, output_chars=1000))
    assert result.ok
    assert result.output.startswith("\x1b[31mred")  # raw here: the drill escapes it before showing
    assert "[... output truncated]" in result.output and len(result.output) < 1100


def test_a_process_that_dies_spoils_no_other_job_of_its_batch() -> None:
    jobs = [("def f():\n    return 1\n", "assert f() == 1\n"),
            ("import os\nos.kill(os.getpid(), 9)\n", "assert True\n"),
            ("def f():\n    return 2\n", "assert f() == 1\n")]
    good, dead, wrong = sandbox.run_many(jobs, QUICK)
    assert good.ok
    assert not dead.ok and dead.first_failure == "the test process ended without results"
    assert not wrong.ok and wrong.failed == 1
    assert sandbox.run_many([], QUICK) == []
