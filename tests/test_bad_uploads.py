"""Bad uploads get a clear message, never a 500, and store nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.urls import reverse

from tests.conftest import subprocess_env
from tests.factories import PASSWORD
from uploads.models import Catalog

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _upload(client, name: str, data: bytes):  # type: ignore[no-untyped-def]
    f = io.BytesIO(data)
    f.name = name
    return client.post(reverse("catalog-upload"), {"file": f})


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("catalog.xlsx", PNG, "catalog.xlsx"),
        ("catalog.csv", b"Name,Year\nfoo,1999\n", "title"),
        ("catalog.csv", b"", "empty"),
        ("catalog.csv", b"Artist,Title\n", "no catalog rows"),
    ],
    ids=["not-a-spreadsheet", "no-artist-title-columns", "empty-file", "header-only"],
)
def test_a_bad_upload_is_refused_with_a_clear_message(client, alice, name, data, expected):
    client.login(request=HttpRequest(), username="alice", password=PASSWORD)
    response = _upload(client, name, data)
    assert response.status_code == 400
    body = response.content.decode()
    assert expected.lower() in body.lower()
    assert 'role="alert"' in body
    assert Catalog.objects.count() == 0


def test_match_catalog_refuses_a_bad_file_with_one_line(db, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_bytes(b"Name,Year\nfoo,1999\n")
    with pytest.raises(CommandError) as caught:
        call_command("match_catalog", str(bad), "--org", "x", "--out", str(tmp_path / "o.csv"))
    message = str(caught.value)
    assert "\n" not in message
    assert "notes.csv" in message


def test_match_catalog_exits_1_on_bad_input(transactional_db, tmp_path):
    bad = tmp_path / "empty.csv"
    bad.write_bytes(b"")
    env = subprocess_env()
    proc = subprocess.run(
        [sys.executable, "manage.py", "match_catalog", str(bad), "--org", "x", "--out", "o.csv"],
        capture_output=True,
        text=True,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        timeout=120,
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "empty" in lines[0]
