"""COPY text encoding of dataset records (no database needed)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from matcher.datasets.copy_text import _extra_json

# text as the readers give it: any character but lone surrogates (the JSON reader replaces them)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
VALUES = st.one_of(
    TEXT,
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.lists(TEXT, max_size=3),
)


@given(st.dictionaries(TEXT, VALUES, max_size=5))
def test_extra_json_is_what_json_dumps_writes(extra):
    written = _extra_json(extra)
    assert written == json.dumps(extra, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(written) == extra
