"""Scale specs: `N` sets a count, `+N` / `-N` move it; the result is never below 1."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*([+-]?)(\d+)\s*$")


@dataclass(frozen=True)
class ScaleSpec:
    sign: str  # "", "+" or "-"
    amount: int

    def __str__(self) -> str:
        return f"{self.sign}{self.amount}"

    @property
    def relative(self) -> bool:
        return bool(self.sign)

    def apply(self, current: int | None) -> int:
        """The new count, given the current one (None: never deployed, counts as 1)."""
        base = current if current is not None else 1
        if self.sign == "+":
            return base + self.amount
        if self.sign == "-":
            return max(1, base - self.amount)
        return max(1, self.amount)

    def below_floor(self, current: int | None) -> bool:
        """Whether `apply` had to raise the result to the floor of 1."""
        base = current if current is not None else 1
        wanted = base - self.amount if self.sign == "-" else self.amount
        return self.sign != "+" and wanted < 1


def parse_scale(text: str | int) -> ScaleSpec:
    """Parse `N`, `+N` or `-N`; raises ValueError with the wording config errors use."""
    match = _SPEC.match(str(text))
    if not match:
        raise ValueError(f"expected N, +N or -N, got {str(text)!r}")
    return ScaleSpec(match.group(1), int(match.group(2)))


def resolve_count(spec: ScaleSpec | None, current: int | None) -> int:
    """Docker Flow's rule: no spec keeps the current count (1 when never deployed)."""
    if spec is None:
        return current if current is not None else 1
    return spec.apply(current)
