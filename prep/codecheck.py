"""Checks coding cards: valid Python, only stdlib and NumPy imports, the reference passing, the stub failing."""

from __future__ import annotations

import ast
import hashlib
import sys

from prep import sandbox
from prep.model import CodeSpec

ALLOWED_PACKAGES = frozenset({"numpy"})
CODE_FIELDS = ("stub", "solution", "tests")
CHECK_LIMITS = sandbox.Limits(seconds=10.0)

# field, 0-based line within that field's text, message
FieldProblem = tuple[str, int, str]

# Verdicts already computed in this process, by digest of (stub, solution, tests): a file parsed again
# (after an edit elsewhere in it, or by another command in the same run) does not run its tests again.
_verdicts: dict[bytes, list[FieldProblem]] = {}


def fenced(code: str) -> str:
    """Code as a Markdown python block (a coding card's answer side)."""
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}python\n{code.rstrip()}\n{fence}"


def static_problems(spec: CodeSpec) -> list[FieldProblem]:
    """What can be found without running anything: empty fields, syntax errors, disallowed imports."""
    problems: list[FieldProblem] = []
    for name in CODE_FIELDS:
        source = getattr(spec, name)
        if not source.strip():
            problems.append((name, 0, f"a coding card needs '{name}' (Python code)"))
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            problems.append((name, max((error.lineno or 1) - 1, 0), f"{name}: Python syntax error: {error.msg}"))
            continue
        problems.extend((name, line, message) for line, message in import_problems(tree, name))
        if name == "tests" and not any(isinstance(node, ast.Assert) or (
                isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"))
                for node in tree.body):
            problems.append((name, 0, "tests: write top-level asserts or def test_... functions"))
    if spec.time is not None and not spec.time > 0:
        problems.append(("time", 0, "time is the target in minutes, a positive number"))
    if any(not hint.strip() for hint in spec.hints):
        problems.append(("hints", 0, "hints must be a list of non-empty texts"))
    return problems


def import_problems(tree: ast.AST, name: str) -> list[tuple[int, str]]:
    """(0-based line, message) for each import of something outside the standard library and NumPy."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""] if node.level == 0 else ["." * node.level + (node.module or "")]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top not in sys.stdlib_module_names and top not in ALLOWED_PACKAGES:
                found.append((node.lineno - 1, f"{name}: import of '{module}': coding cards may use only the "
                                               "standard library and NumPy"))
    return found


def digest(spec: CodeSpec) -> bytes:
    """The key of a spec's verdict: what running it depends on."""
    return hashlib.sha256("\0".join((spec.stub, spec.solution, spec.tests)).encode("utf-8", "surrogatepass")).digest()


def run_problems(specs: list[CodeSpec], limits: sandbox.Limits | None = None) -> list[list[FieldProblem]]:
    """For each spec: whether its solution passes its tests and its stub fails them, all specs run in one
    sandboxed process (one interpreter start)."""
    keys = [digest(spec) for spec in specs]
    todo = [spec for spec, key in zip(specs, keys) if key not in _verdicts]
    jobs = [job for spec in todo for job in ((spec.solution, spec.tests), (spec.stub, spec.tests))]
    results = sandbox.run_many(jobs, limits or CHECK_LIMITS)
    for index, spec in enumerate(todo):
        _verdicts[digest(spec)] = verdict(results[2 * index], results[2 * index + 1])
    return [list(_verdicts[key]) for key in keys]


def verdict(solution: sandbox.Result, stub: sandbox.Result) -> list[FieldProblem]:
    """The problems of a coding card given how its solution and its stub did against the tests."""
    problems: list[FieldProblem] = []
    if not solution.ok:
        line = solution.failure_line - 1 if solution.failure_line else 0
        field = "tests" if solution.failure_line else "solution"
        problems.append((field, line, f"the reference solution fails its tests: {solution.first_failure}"))
    if stub.ok:
        problems.append(("stub", 0, f"the stub passes all {stub.passed} tests: the tests cannot tell it from a "
                                    "solution"))
    return problems
