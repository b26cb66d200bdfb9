"""`orderflow bench --help` names every variant the bench can run."""

from __future__ import annotations

from orderflow.cli.bench import _ALL
from orderflow.lab.bench.runner import VARIANTS


def test_the_help_lists_exactly_the_benchs_variants_in_their_order() -> None:
    assert tuple(_ALL.split(",")) == VARIANTS
