"""Correct programs print nothing in default mode: the hard negatives of test_losscheck_negatives.py and
the programs of test_losscheck_correct_programs.py, run without %%losscheck (reused, not copied)."""

import inspect

import pytest

import test_losscheck_correct_programs as programs
import test_losscheck_negatives as negatives


def without_magic(cell: str) -> str:
    return cell.replace("%%losscheck\n", "", 1)


def _negative_tests():
    for name, test in inspect.getmembers(negatives, inspect.isfunction):
        if not name.startswith("test_"):
            continue
        marks = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
        if not marks:
            yield pytest.param(test, {}, id=name)
            continue
        argname, values = marks[0].args[:2]
        for i, value in enumerate(values):
            yield pytest.param(test, {argname: value}, id=f"{name}[{i}]")


@pytest.mark.parametrize("test, kwargs", list(_negative_tests()))
def test_hard_negative_prints_nothing_in_default_mode(ipython, monkeypatch, test, kwargs):
    def assert_silent(ipython, cell: str, calls=None):
        run = ipython.run(without_magic(negatives.HEAD + cell))
        assert run.success, run.out
        assert "nllhint" not in run.out, run.out
        return run

    monkeypatch.setattr(negatives, "assert_clean", assert_silent)
    test(ipython, **kwargs)


@pytest.mark.parametrize("name", sorted(programs.PROGRAMS))
def test_correct_program_prints_nothing_in_default_mode(ipython, name):
    run = ipython.run(without_magic(programs.HEAD + programs.PROGRAMS[name]))
    assert run.success, run.out
    assert "nllhint" not in run.out, run.out
