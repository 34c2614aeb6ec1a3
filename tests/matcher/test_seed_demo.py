"""manage.py seed_demo, which `.ci/serve` (the README's first command) runs before serving."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from matcher.models import MatchRun
from uploads.models import Catalog

DATA = Path(__file__).resolve().parent.parent / "data"

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The two sample files seed_demo reads from ../shared/data, from the test data copies."""
    shutil.copy(DATA / "datasets" / "spotify_tracks_sample_886.csv", tmp_path)
    shutil.copy(
        DATA / "catalogs" / "most_streamed_2024_excerpt.csv",
        tmp_path / "most_streamed_spotify_2024_isrc.csv",
    )
    return tmp_path


@pytest.mark.django_db(transaction=True)  # the run is queued on commit, as in `.ci/serve`
def test_demo_is_loaded_and_its_links_name_the_address_the_server_will_use(data_dir):
    out = io.StringIO()
    call_command("seed_demo", data_dir=data_dir, address="0.0.0.0:8123", stdout=out)
    text = out.getvalue()
    run = MatchRun.objects.get()
    assert run.status == MatchRun.Status.DONE
    assert "Demo ready: http://0.0.0.0:8123/" in text
    assert f"demo report: http://0.0.0.0:8123/runs/{run.pk}/" in text
    assert ":8000" not in text
    password = text.split("password:")[1].split()[0]
    assert get_user_model().objects.get(username="demo").check_password(password)


def test_demo_loaded_twice_keeps_one_catalog_and_gives_a_new_password(data_dir):
    call_command("seed_demo", data_dir=data_dir, stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed_demo", data_dir=data_dir, stdout=out)
    assert Catalog.objects.count() == 1
    assert "Demo ready: http://127.0.0.1:8000/" in out.getvalue()
    password = out.getvalue().split("password:")[1].split()[0]
    assert get_user_model().objects.get(username="demo").check_password(password)


def test_missing_sample_files_are_an_error_that_names_the_folder(tmp_path):
    with pytest.raises(CommandError, match=str(tmp_path)):
        call_command("seed_demo", data_dir=tmp_path, stdout=io.StringIO())
