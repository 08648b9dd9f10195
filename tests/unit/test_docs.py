"""Generated documentation stays true: the README's configuration reference matches profiles.toml."""

from __future__ import annotations

from retail_db.tools.config_doc import README, RULES, rewrite, setting_paths


def test_every_setting_has_a_rule() -> None:
    assert set(setting_paths()) == set(RULES), "add the new setting's rule to RULES in retail_db/tools/config_doc.py"


def test_readme_configuration_reference_is_current() -> None:
    text = README.read_text()
    assert rewrite(text) == text, "run `python -m retail_db.tools.config_doc` and commit README.md"
