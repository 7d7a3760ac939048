"""Fixtures of the fault tests (helpers in fault_project.py)."""

from __future__ import annotations

from fault_project import project

__all__ = ["project"]
