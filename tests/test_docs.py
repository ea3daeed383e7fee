"""docs/rules.md is generated from the registries by running every example: it must not be stale."""

from pathlib import Path

from nllhint.docs import generate

RULES_PAGE = Path(__file__).resolve().parent.parent / "docs" / "rules.md"


def test_rules_page_is_what_the_generator_prints_today():
    assert RULES_PAGE.read_text() == generate(), "regenerate: python -m nllhint.docs > docs/rules.md"


def test_every_code_has_a_page_with_an_example_and_its_output():
    text = RULES_PAGE.read_text()
    from nllhint.audit import AUDITS
    from nllhint.rules import RULES

    for item in [*RULES, *AUDITS]:
        page = text.split(f"\n## {item.code}\n", 1)[1].split("\n## NLH", 1)[0]
        assert f"`{item.category}`" in page
        if item.examples:
            assert "### Example" in page and f" {item.code} [" in page, item.code
