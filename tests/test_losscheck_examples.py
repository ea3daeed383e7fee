"""Every audit's own examples, run under %%losscheck in a real shell: the documented examples are tested."""

import pytest

from nllhint.audit import AUDITS

EXAMPLES = [(a.code, i, ex) for a in AUDITS for i, ex in enumerate(a.examples)]


@pytest.mark.parametrize("code,index,example", EXAMPLES, ids=[f"{c}-{i}" for c, i, _ in EXAMPLES])
def test_audit_example_shows_its_finding(ipython, code, index, example):
    run = ipython.run("%%losscheck\n" + example.code)
    assert run.success, run.out
    assert f" {code} [" in run.out, run.out
    for expected in example.expect:
        assert expected in run.out, f"{expected!r} missing from:\n{run.out}"


def test_audit_codes_are_unique_and_in_the_audit_ranges():
    from nllhint.rules import RULES

    codes = [a.code for a in AUDITS]
    assert len(codes) == len(set(codes))
    assert all(c.startswith(("NLH8", "NLH9")) and len(c) == 6 for c in codes)
    assert not set(codes) & {r.code for r in RULES}


def test_every_audit_has_an_example():
    assert [a.code for a in AUDITS if not a.examples] == []
