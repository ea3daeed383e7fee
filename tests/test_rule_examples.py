"""Every rule's own examples, run as cells in a real IPython shell: the docs' examples are tested ones."""

import pytest

from nllhint.rules import RULES

EXAMPLES = [(r.code, i, ex) for r in RULES for i, ex in enumerate(r.examples)]


@pytest.mark.parametrize("code,index,example", EXAMPLES, ids=[f"{c}-{i}" for c, i, _ in EXAMPLES])
def test_rule_example_shows_its_hint(ipython, code, index, example):
    run = ipython.run(example.code)
    assert not run.success, "an example must raise"
    assert f"nllhint {code} " in run.out, run.out
    for expected in example.expect:
        assert expected in run.out, f"{expected!r} missing from:\n{run.out}"


def test_codes_are_unique_and_well_formed():
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes))
    assert all(len(c) == 6 and c.startswith("NLH") and c[3:].isdigit() for c in codes)


def test_every_rule_has_an_example_or_says_why_not():
    missing = [r.code for r in RULES if not r.examples and "CUDA" not in r.summary]
    assert not missing, f"rules without a runnable example: {missing}"
