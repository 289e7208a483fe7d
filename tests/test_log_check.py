"""The suite's own check: an ERROR the product logs fails the test that did not declare it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = '''
import asyncio
import gc
import logging
from pathlib import Path

import pytest

from tests.support import procs
from tests.support.logcheck import allow_errors
from tests.support.util import eventually_sync


def test_an_error_fails():
    logging.getLogger("edge.signaling").error("something broke")


def test_a_traceback_is_shown():
    try:
        {}["missing-key"]
    except KeyError:
        logging.getLogger("control_plane.api").exception("request failed")


@pytest.mark.allow_errors(r"expected failure", reason="provoked on purpose")
def test_a_declared_error_passes():
    logging.getLogger("nodes.bus").error("an expected failure")


@pytest.mark.allow_errors(r"expected failure", reason="provoked on purpose")
def test_only_the_declared_error_passes():
    logging.getLogger("nodes.bus").error("an expected failure")
    logging.getLogger("nodes.bus").error("another one")


def test_a_helper_may_declare_it():
    allow_errors(r"known to the helper", reason="the helper's set-up logs it")
    logging.getLogger("edge.events").error("known to the helper")


def test_warnings_and_other_loggers_pass():
    logging.getLogger("edge.signaling").warning("only a warning")
    logging.getLogger("somebody.else").error("not ours")


async def test_a_task_exception_never_retrieved_fails():
    async def boom():
        raise RuntimeError("lost in a task")
    task = asyncio.get_running_loop().create_task(boom())
    await asyncio.wait([task])  # done, its exception never retrieved
    del task


def test_a_child_process_error_fails(tmp_path: Path, nats_server):
    edge = procs.edge(tmp_path, nats_server.url, "edge-k", auth={"jwks_file": str(tmp_path / "none.json")}).start()
    try:
        eventually_sync(lambda: edge.proc.poll() is not None, timeout=20, what="edge exits")
    finally:
        edge.kill()


@pytest.mark.allow_errors(reason="no pattern, no use")
def test_a_marker_needs_a_reason():
    pass


@pytest.mark.allow_errors(r"x")
def test_a_marker_without_reason_fails():
    pass
'''


def test_unexpected_errors_fail_the_test_and_declared_ones_do_not(pytester: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # The inner run starts in a temporary folder: it finds the suite's support code by the path.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
                     "markers =\n    allow_errors: expected ERROR logs\n")
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", "-rE")
    result.assert_outcomes(passed=10, errors=6)
    out = result.stdout.str()
    for test in ("test_an_error_fails", "test_a_traceback_is_shown", "test_only_the_declared_error_passes",
                 "test_a_task_exception_never_retrieved_fails", "test_a_child_process_error_fails",
                 "test_a_marker_without_reason_fails"):
        assert f"ERROR test_cases.py::{test}" in out
    assert "edge.signaling: something broke" in out
    assert "KeyError: 'missing-key'" in out
    assert "nodes.bus: another one" in out and "nodes.bus: an expected failure" not in out
    assert "Task exception was never retrieved" in out and "RuntimeError: lost in a task" in out
    assert "edge-edge-k: nodes.runner: start-up failed" in out
    assert "allow_errors needs a reason" in out
    assert "not ours" not in out and "only a warning" not in out
