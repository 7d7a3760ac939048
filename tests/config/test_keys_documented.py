"""Every configuration key that exists is in a key table (the README's, or one in docs/
such as Docker Flow's), with its environment variable and its default; and the tables
name no key that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

from flowgate.config.settings import CORE_KEYS
from flowgate.plugins import BackendCatalog, extra_config_keys, make_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ROW = re.compile(r"^\| `(?P<key>[a-z_]+)` \| `(?P<env>[A-Z_]+)` \| (?P<default>[^|]*) \|")


def documented() -> dict[str, tuple[str, str]]:
    lines = [line for page in PAGES for line in page.read_text(encoding="utf-8").splitlines()]
    rows = (ROW.match(line) for line in lines)
    return {m["key"]: (m["env"], m["default"].strip()) for m in rows if m}


def built_in_keys() -> list:
    pm = make_plugin_manager(load_entry_points=False)
    return [*CORE_KEYS, *extra_config_keys(pm, BackendCatalog.collect(pm))]


def test_every_key_is_documented_with_its_variable() -> None:
    table = documented()
    for key in built_in_keys():
        assert key.name in table, f"README.md or docs/: no key table row for `{key.name}`"
        assert table[key.name][0] == key.env_var, key.name


def test_the_table_names_only_keys_that_exist() -> None:
    known = {key.name for key in built_in_keys()}
    assert set(documented()) <= known, set(documented()) - known


def test_documented_numeric_defaults_are_the_declared_ones() -> None:
    table = documented()
    for key in built_in_keys():
        if isinstance(key.default, (int, float)) and not isinstance(key.default, bool):
            written = table[key.name][1].split()[0]
            assert float(written) == float(key.default), (key.name, written, key.default)
