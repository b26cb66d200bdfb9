"""``Vocabulary``: the base of orderflow's closed sets of words (statuses, steps, actions).

A ``str`` enum whose members read as their value everywhere: in JSON (the wire format
histories replay with), and in f-strings and logs on every Python version (a plain
``(str, Enum)`` prints ``Step.INVENTORY`` from Python 3.11 on).
"""

from __future__ import annotations

from enum import Enum


class Vocabulary(str, Enum):
    """A closed set of words; each member is its value."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)
