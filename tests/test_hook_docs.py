"""Every hook spec has a section in docs/plugins.md showing its exact signature."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from flowgate import hookspecs

DOC = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text()
SPECS = [
    fn
    for _, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "flowgate_spec")
]


def documented_signature(fn: object) -> str:
    signature = str(inspect.signature(fn)).replace("'", "")  # type: ignore[arg-type]
    return f"def {fn.__name__}{signature}"  # type: ignore[attr-defined]


def test_there_are_hooks_to_check() -> None:
    names = {fn.__name__ for fn in SPECS}
    assert {"pick_color", "deploy", "scale", "reconfigure_proxy", "stop_old"} <= names


@pytest.mark.parametrize("spec", SPECS, ids=lambda fn: fn.__name__)
def test_hook_has_a_section_with_its_exact_signature(spec: object) -> None:
    assert f"#### `{spec.__name__}`" in DOC  # type: ignore[attr-defined]
    assert documented_signature(spec) in DOC


def test_every_spec_has_a_docstring() -> None:
    assert all((fn.__doc__ or "").strip() for fn in SPECS)


def test_the_reference_documents_no_hook_that_does_not_exist() -> None:
    reference = DOC[DOC.index("## Hook reference") :]
    reference = reference[: reference.index("\n## ", 1)] if "\n## " in reference[1:] else reference
    documented = {line[6:-1] for line in reference.splitlines() if line.startswith("#### `")}
    assert documented == {fn.__name__ for fn in SPECS}
