"""Scale specs: `N` sets a count, `+N` / `-N` move it; the result is never below 1 and
never above MAX_SCALE (a typo must not start a million containers)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowgate.config.values import MAX_SCALE
from flowgate.errors import UsageError

_SPEC = re.compile(r"^\s*([+-]?)([0-9]+)\s*$")


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
        """The new count, given the current one (None: never deployed, counts as 1).
        Raises UsageError when it would pass MAX_SCALE."""
        base = current if current is not None else 1
        if not 0 <= base <= MAX_SCALE:
            raise UsageError(f"the current count {base} is outside 1..{MAX_SCALE}")
        if self.sign == "+":
            count = base + self.amount
        elif self.sign == "-":
            count = max(1, base - self.amount)
        else:
            count = max(1, self.amount)
        if count > MAX_SCALE:
            raise UsageError(
                f"scale {self}: {count} instances is more than the maximum of {MAX_SCALE}"
            )
        return count

    def below_floor(self, current: int | None) -> bool:
        """Whether `apply` had to raise the result to the floor of 1."""
        base = current if current is not None else 1
        wanted = base - self.amount if self.sign == "-" else self.amount
        return self.sign != "+" and wanted < 1


def parse_scale(text: str | int) -> ScaleSpec:
    """Parse `N`, `+N` or `-N` (amount at most MAX_SCALE); raises ValueError with the
    wording config errors use."""
    if isinstance(text, bool):
        raise ValueError(f"expected N, +N or -N, got {text!r}")
    match = _SPEC.match(str(text))
    if not match:
        raise ValueError(f"expected N, +N or -N, got {str(text)!r}")
    digits = match.group(2).lstrip("0") or "0"
    # Compared as text first: int() of a 5000-digit string is itself an error.
    if len(digits) > len(str(MAX_SCALE)) or int(digits) > MAX_SCALE:
        raise ValueError(f"expected at most {MAX_SCALE} instances, got {str(text).strip()!r}")
    return ScaleSpec(match.group(1), int(digits))


def resolve_count(spec: ScaleSpec | None, current: int | None) -> int:
    """Docker Flow's rule: no spec keeps the current count (1 when never deployed)."""
    if spec is None:
        return current if current is not None else 1
    return spec.apply(current)
