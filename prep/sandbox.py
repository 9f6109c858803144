"""Runs untrusted code against tests in a separate, limited process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """What one run may use. `seconds` is wall time for one job; a batch gets it once per job."""

    seconds: float = 10.0
    memory_mb: int = 1024  # address space: NumPy alone maps about 300 MB of it
    cpu_seconds: int = 20
    output_chars: int = 4000  # of stdout and stderr, each, kept in the result
    file_mb: int = 16  # largest file the code may write in its working folder


@dataclass
class Test:
    """One test's outcome: `name` is the test function or the assert's first line."""

    name: str
    line: int  # 1-based, in the tests' source
    passed: bool
    message: str = ""


@dataclass
class Result:
    """The outcome of running code against its tests."""

    passed: int = 0
    failed: int = 0
    first_failure: str = ""  # "name: message" of the first failing test, or why nothing ran
    seconds: float = 0.0
    timed_out: bool = False
    memory_exceeded: bool = False
    tests: list[Test] = field(default_factory=list)
    output: str = ""  # what the code printed (stdout then stderr), truncated; raw, sanitise before showing
    failure_line: int = 0  # 1-based line in the tests of the first failure (0: none or not in the tests)

    @property
    def ok(self) -> bool:
        """Every test ran and passed."""
        return self.passed > 0 and self.failed == 0 and not self.timed_out and not self.memory_exceeded


# Runs first in the child: sockets refused before any user code can import them.
PRELUDE = """\
import socket as _socket
class _NoNetwork(_socket.socket):
    def __init__(self, *args, **kwargs):
        raise OSError("network access is disabled in the sandbox")
def _refuse(*args, **kwargs):
    raise OSError("network access is disabled in the sandbox")
import _socket as _c_socket
for _module in (_socket, _c_socket):  # the C module too: `import _socket` is no way round
    _module.socket = _module.SocketType = _NoNetwork
    for _name in ("create_connection", "socketpair", "fromfd", "getaddrinfo", "create_server"):
        if hasattr(_module, _name):
            setattr(_module, _name, _refuse)
del _socket, _c_socket, _module, _name, _NoNetwork, _refuse
"""

# The harness: reads jobs from jobs.json, runs each job's code then its tests (each `def test_*`, and each
# run of top-level statements ending in asserts), and writes the counts to results.json.
HARNESS = r'''
import ast, io, json, signal, sys, time, traceback

class _Timeout(BaseException):
    pass

def _alarm(signum, frame):
    raise _Timeout()

signal.signal(signal.SIGALRM, _alarm)

def _message(error, source_lines, filename):
    if isinstance(error, _Timeout):
        return "timed out"
    if isinstance(error, MemoryError):
        return "ran out of memory"
    detail = str(error)
    if isinstance(error, AssertionError):
        line = 0
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if frame.filename == filename:
                line = frame.lineno or 0
                break
        shown = source_lines[line - 1].strip() if 0 < line <= len(source_lines) else ""
        text = "assertion failed" + (f" at `{shown}`" if shown.startswith("assert") else "")
        return (text + (f" ({detail})" if detail else ""))[:500]
    return (f"{type(error).__name__}: {detail}" if detail else type(error).__name__)[:500]

def _compare_detail(node, namespace, filename):
    """For `assert left <op> right`: the two sides' values, as pytest shows them."""
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return ""
    try:
        left = eval(compile(ast.Expression(test.left), filename, "eval"), namespace)
        right = eval(compile(ast.Expression(test.comparators[0]), filename, "eval"), namespace)
    except BaseException:
        return ""
    return f"left: {repr(left)[:200]}, right: {repr(right)[:200]}"

def _blocks(tree):
    """Tests: (name, line, statements, kind) for each test function and each assert block."""
    found, pending = [], []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            found.append(("setup", node.lineno, pending + [node], node.name))
            pending = []
            continue
        pending.append(node)
        if isinstance(node, ast.Assert):
            found.append(("assert", node.lineno, pending, None))
            pending = []
    if pending:
        found.append(("setup", pending[0].lineno, pending, None))
    return found

def _run_job(job, seconds):
    code, tests = job["code"], job["tests"]
    result = {"tests": [], "memory": False, "error": ""}
    namespace = {"__name__": "__prep__"}
    lines = tests.split("\n")
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        exec(compile(code, "solution.py", "exec"), namespace)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as error:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(error, KeyboardInterrupt):
            raise
        result["memory"] = isinstance(error, MemoryError)
        result["timed_out"] = isinstance(error, _Timeout)
        where = ""
        for frame in reversed(traceback.extract_tb(error.__traceback__)):
            if frame.filename == "solution.py":
                where = f" (line {frame.lineno})"
                break
        text = f"{type(error).__name__}{where}" + (f": {error}" if str(error) else "")
        result["error"] = ("timed out" if isinstance(error, _Timeout) else text)[:500]
        return result
    tree = ast.parse(tests, "tests.py")
    deadline = time.monotonic() + seconds
    for kind, line, statements, name in _blocks(tree):
        left = deadline - time.monotonic()
        label = name or (lines[line - 1].strip()[:120] if 0 < line <= len(lines) else f"line {line}")
        try:
            if left <= 0:
                raise _Timeout()
            signal.setitimer(signal.ITIMER_REAL, left)
            body = statements[:-1] if kind == "assert" else statements
            exec(compile(ast.Module(body=body, type_ignores=[]), "tests.py", "exec"), namespace)
            if kind == "assert":
                node = statements[-1]
                if not eval(compile(ast.Expression(node.test), "tests.py", "eval"), namespace):
                    detail = _compare_detail(node, namespace, "tests.py")
                    raise AssertionError(detail) if detail else AssertionError()
            elif name is not None:
                namespace[name]()
            signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException as error:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if isinstance(error, KeyboardInterrupt):
                raise
            if isinstance(error, MemoryError):
                result["memory"] = True
            if isinstance(error, _Timeout):
                result["timed_out"] = True
            at = line
            for frame in reversed(traceback.extract_tb(error.__traceback__)):
                if frame.filename == "tests.py":
                    at = frame.lineno or line
                    break
            result["tests"].append([label, at, False, _message(error, lines, "tests.py")])
            if isinstance(error, _Timeout):
                break
            continue
        if kind == "assert" or name is not None:
            result["tests"].append([label, line, True, ""])
    return result

def main():
    jobs = json.load(open("jobs.json", encoding="utf-8"))
    seconds = float(sys.argv[1])
    out = []
    for job in jobs:
        started = time.monotonic()
        try:
            result = _run_job(job, seconds)
        except MemoryError:
            result = {"tests": [], "memory": True, "error": "ran out of memory"}
        result["seconds"] = time.monotonic() - started
        out.append(result)
        sys.stdout.flush()
    with open("results.json", "w", encoding="utf-8") as handle:
        json.dump(out, handle)

main()
'''


def run(code: str, tests: str, limits: Limits = Limits()) -> Result:
    """Run `code`, then `tests` in its namespace, in a fresh limited process."""
    return run_many([(code, tests)], limits)[0]


def run_many(jobs: list[tuple[str, str]], limits: Limits = Limits()) -> list[Result]:
    """Run several (code, tests) jobs in one process (one interpreter start for all); if that process dies
    (out of memory, out of time), each job is run again on its own, so one bad job cannot blame others."""
    if not jobs:
        return []
    results = _run_process(jobs, limits)
    if isinstance(results, list):
        return results
    if len(jobs) == 1:
        return [results]
    return [run(code, tests, limits) for code, tests in jobs]


def _run_process(jobs: list[tuple[str, str]], limits: Limits) -> list[Result] | Result:
    """Each job's result, or one Result saying why the process gave none."""
    with tempfile.TemporaryDirectory(prefix="prep-sandbox-") as folder:
        work = Path(folder)
        (work / "jobs.json").write_text(json.dumps([{"code": c, "tests": t} for c, t in jobs]), encoding="utf-8")
        (work / "harness.py").write_text(PRELUDE + HARNESS, encoding="utf-8")
        wall = limits.seconds * len(jobs) + 5  # interpreter and NumPy start-up on a busy machine
        stdout_path, stderr_path = work / "stdout.txt", work / "stderr.txt"
        started = time.monotonic()
        timed_out = False
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-I", str(work / "harness.py"), str(limits.seconds)],
                cwd=work, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_environment(work),
                preexec_fn=lambda: _limit(limits), start_new_session=True, close_fds=True)
            try:
                process.wait(timeout=wall)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(process)
        seconds = time.monotonic() - started
        output = _read_output(stdout_path, stderr_path, limits.output_chars)
        try:
            raw = json.loads((work / "results.json").read_text(encoding="utf-8"))
            assert isinstance(raw, list) and len(raw) == len(jobs)
        except (OSError, ValueError, AssertionError):
            killed_by = -process.returncode if process.returncode is not None and process.returncode < 0 else 0
            memory = "MemoryError" in output or killed_by == signal.SIGSEGV
            timed_out = timed_out or killed_by == signal.SIGXCPU  # our own SIGKILL comes only after a timeout
            return _process_failure(limits, timed_out, memory, output, seconds)
    return [_result(item, output, tests) for item, (_, tests) in zip(raw, jobs)]


def _result(item: dict, output: str, tests: str) -> Result:
    result = Result(seconds=float(item.get("seconds", 0.0)), output=output,
                    memory_exceeded=bool(item.get("memory")), timed_out=bool(item.get("timed_out")))
    for name, line, passed, message in item.get("tests", []):
        result.tests.append(Test(str(name), int(line), bool(passed), str(message)))
    result.passed = sum(test.passed for test in result.tests)
    result.failed = len(result.tests) - result.passed
    error = str(item.get("error", ""))
    if error:
        result.failed = max(result.failed, 1)
        result.first_failure = f"the code itself failed: {error}"
    else:
        failing = next((test for test in result.tests if not test.passed), None)
        if failing is not None:
            result.first_failure = f"{failing.name}: {failing.message}"
            result.failure_line = failing.line
        elif not result.tests:
            result.failed, result.first_failure = 1, "no tests found (write asserts or def test_... functions)"
    return result


def _process_failure(limits: Limits, timed_out: bool, memory: bool, output: str, seconds: float) -> Result:
    if timed_out:
        why = f"stopped: over the time limit ({limits.seconds:g} s)"
    elif memory:
        why = f"stopped: over the memory limit ({limits.memory_mb} MB)"
    else:
        why = "the test process ended without results" + (f": {output.strip().splitlines()[-1]}" if output.strip()
                                                           else "")
    return Result(failed=1, first_failure=why, seconds=seconds, timed_out=timed_out, memory_exceeded=memory,
                  output=output)


def _environment(work: Path) -> dict[str, str]:
    """A minimal environment: no proxies, no tokens, one BLAS thread (threads multiply mapped memory)."""
    env = {"PATH": os.defpath, "HOME": str(work), "TMPDIR": str(work), "LANG": "C.UTF-8",
           "PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    return env


def _limit(limits: Limits) -> None:
    """In the child before exec: the resource limits (exceeding CPU time kills it with SIGXCPU)."""
    import resource

    megabyte = 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * megabyte,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * megabyte,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill_group(process: subprocess.Popen) -> None:
    """Stop the child and anything it started (it leads its own session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _read_output(stdout_path: Path, stderr_path: Path, limit: int) -> str:
    parts = []
    for path in (stdout_path, stderr_path):
        with open(path, "rb") as handle:
            data = handle.read(limit * 4 + 4)
        text = data.decode("utf-8", "replace")
        if len(text) > limit or path.stat().st_size > len(data):
            text = text[:limit] + "\n[... output truncated]"
        parts.append(text)
    return "\n".join(part for part in parts if part)
