"""Hypothesis strategies for hostile input: YAML/JSON-shaped values of every type, text
with control characters, huge and non-finite numbers."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

#: Text an attacker or a clumsy operator might type: control characters, quotes, `#`,
#: newlines, HAProxy and shell metacharacters, non-ASCII, digits.
NASTY = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("/\n\r\t #'\"${}\\;,:*.-_ ~%&=+?!@[]()<>|`^")),
        st.characters(max_codepoint=0x2FF),
        st.sampled_from(["\x00", "\x7f", "\u2028", "é", "٣"]),
    ),
    max_size=40,
)

NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "0", "-0", "99999999999999999999"]),
)

SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, NASTY)


def values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any YAML/JSON-shaped value: scalars, lists and mappings, nested."""
    return st.recursive(
        SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.one_of(NASTY, st.integers()), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )
