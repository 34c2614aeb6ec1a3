"""Fixtures of the matcher tests: the known small run (tests.factories.small_run)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import Built, small_run


@pytest.fixture
def built(label: Any) -> Built:
    """The known small run of the label: six catalog rows, four matches in alpha and beta."""
    return small_run(label)
