"""No value in profiles.toml ends in a traceback or a refusal of more than one line: a property over generated
values (Hypothesis), each put at a setting of the reference design's profile, or beside it. Synth, plan and cost all
read a profile through parse_settings; what they do after it is held to one line by their last-resort handler
(tools/errors.py)."""

# ruff: noqa: RUF001 (other scripts' digits and look-alike characters are what these cases are about)

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retail_db.config import ConfigError, parse_settings
from retail_db.parameters import catalogue
from tests.helpers import production_raw, reference_raw, set_setting


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every setting's path in a profile's table, list items and table entries included."""
    if isinstance(value, dict):
        children = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        children = [(str(i), v) for i, v in enumerate(value)]
    else:
        return [path]
    return [path, *[leaf for key, child in children for leaf in _leaves(child, (*path, key))]]


RAW = {"dev": reference_raw, "prod": production_raw}
REFERENCE_MAJOR = parse_settings("dev", reference_raw()).database.engine_major_version
PATHS = {profile: _leaves(raw())[1:] for profile, raw in RAW.items()}

# What TOML can hold, leaning to what breaks parsers: huge and non-finite numbers, other scripts' digits, control
# characters, look-alike text.
TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("0123456789٠١٢٣٤٥٦٧٨٩０１２３\n\t\r\x00 :-/.,()?*#LW$"),
    ),
    max_size=40,
)
# PostgreSQL's numbers with units, up to hundreds of digits and huge exponents: what a parameter's parser must survive.
NUMBERS = st.from_regex(r"-?[0-9]{1,400}(\.[0-9]{0,3})?([eE]-?[0-9]{1,4})?(kB|MB|GB|TB|ms|s|min|h|d)?", fullmatch=True)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, -1, 2**31, 2**63, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
    st.from_regex(r"cron\([0-9*?/LW#,-]{1,4}( [0-9A-Z*?/LW#,-]{1,4}){5}\)", fullmatch=True),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?", fullmatch=True),
    NUMBERS,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=8,
)


def _refused_in_one_line(profile: str, raw: dict[str, Any]) -> None:
    try:
        parse_settings(profile, raw)
    except ConfigError as error:
        assert "\n" not in str(error), str(error)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), value=VALUES, profile=st.sampled_from(sorted(RAW)))
def test_any_value_at_any_setting_is_taken_or_refused_in_one_line(
    data: st.DataObject, value: Any, profile: str
) -> None:
    path = data.draw(st.sampled_from(PATHS[profile]))
    _refused_in_one_line(profile, set_setting(RAW[profile](), path, value))


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(sorted(catalogue(REFERENCE_MAJOR))), value=st.one_of(NUMBERS, TEXT))
def test_any_value_of_any_parameter_is_taken_or_refused_in_one_line(name: str, value: str) -> None:
    """Every parameter of the catalogue, with PostgreSQL's numbers (hundreds of digits, huge exponents, units) and
    any text."""
    _refused_in_one_line("dev", set_setting(reference_raw(), ("database", "parameters", name), value))


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(PATHS["dev"]), key=TEXT, value=VALUES)
def test_any_key_beside_any_table_is_refused_in_one_line(path: tuple[str, ...], key: str, value: Any) -> None:
    raw = reference_raw()
    table: Any = raw
    for part in path[:-1]:
        table = table[int(part)] if isinstance(table, list) else table[part]
    if isinstance(table, dict):
        table[key] = value
    _refused_in_one_line("dev", raw)
