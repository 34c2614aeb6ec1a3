"""The printable report as Chromium prints it (issue 17): A4 pages numbered "Page N of M", no
line wider than the page, and a picture of its first pages for docs/ui.md."""

from __future__ import annotations

from typing import Any

import pypdfium2 as pdfium
import pytest

from matcher.reports.printable import report_html
from matcher.review import services as review
from tests.e2e.conftest import Shots
from tests.factories import Built, CatalogFactory, CatalogRowFactory, dataset_with_tracks
from tests.factories import finished_run as run_of

pytestmark = pytest.mark.e2e

CONFIRMED = 24
A4_POINTS = (595.28, 841.89)  # 210 x 297 mm at 72 points an inch
A4_CSS_PX = 794  # 210 mm at 96 CSS px an inch, rounded up


def _long_report(label: Any, reviewer: Any) -> Built:
    """A run with CONFIRMED confirmed matches (and one rejected), long unbroken text included:
    a track id, a URL and a note a line cannot break at a space."""
    songs = {
        n: (f"Aurora Lane feat. Kite Parade {n}", f"Night Drive (Take {n})") for n in range(2, 30)
    }
    tracks = {f"a-{n}": song for n, song in songs.items()}
    alpha = dataset_with_tracks("alpha", tracks=tracks)
    # finished_run gives row 4 candidates in beta (b-1 matched, b-3 not).
    dataset_with_tracks("beta", tracks={"b-1": songs[4], "b-3": ("Nobody", "Else")})
    version = alpha.current_version
    long_id = "yt-" + "Q" * 90
    version.tracks.filter(track_id="a-3").update(
        track_id=long_id, url="https://www.youtube.com/watch?v=" + "x" * 120
    )
    version.tracks.filter(track_id="a-4").update(url="javascript:alert(document.cookie)")
    version.tracks.update(album="Neon (Deluxe)", duration_s=214.5)
    catalog = CatalogFactory(organization=label, name="northern-lights-catalog-2026.xlsx")
    rows = {
        n: CatalogRowFactory(
            catalog=catalog,
            row_number=n,
            artist=a,
            title=t,
            album="Neon",
            isrc=f"GBXYZ26000{n:02d}",
            duration_s=213.0,
        )
        for n, (a, t) in songs.items()
    }
    catalog.row_count = len(rows)
    catalog.save()
    matches = [
        (n, "alpha", long_id if n == 3 else f"a-{n}", "exact" if n % 3 else "strong", 100 - n % 7)
        for n in songs
    ] + [(4, "beta", "b-1", "possible", 76)]
    built = run_of(catalog, rows, matches)
    for i, n in enumerate(sorted(songs)):
        m = built.matches[(n, "alpha")]
        if i < CONFIRMED:
            note = f"Same master as our release, checked against the label copy ({n})."
            if n == 5:
                note = "Checksum-" + "0123456789abcdef" * 8
            review.verdict_record(match=m, user=reviewer, value="confirmed", note=note)
        elif i == CONFIRMED:
            review.verdict_record(match=m, user=reviewer, value="rejected", note="A cover.")
    return built


def test_the_printable_report_prints_as_numbered_a4_pages(
    browser: Any, label: Any, alice: Any, rita: Any, shots: Shots, tmp_path: Any
) -> None:
    built = _long_report(label, rita)
    alice.first_name, alice.last_name = "Alice", "Moreau"
    alice.save()
    rita.first_name, rita.last_name = "Rita", "Okafor"
    rita.save()
    built.run.created_by = alice
    built.run.save()
    built.catalog.uploaded_by = alice
    built.catalog.save()
    html = report_html(built.run)
    context = browser.new_context(viewport={"width": A4_CSS_PX, "height": 1123})
    try:
        page = context.new_page()
        # The file as a lawyer opens it: from disk, with nothing else around it.
        path = tmp_path / "report.html"
        path.write_text(html, encoding="utf-8")
        page.goto(path.as_uri())
        page.emulate_media(media="print")
        # Nothing wider than an A4 page less its margins (long ids, URLs and notes wrap).
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"the report is {widths[0]} px wide on a {widths[1]} px page"
        assert page.locator("a[href^='javascript:']").count() == 0
        pdf_path = tmp_path / "report.pdf"
        page.pdf(path=str(pdf_path), prefer_css_page_size=True, print_background=True)
    finally:
        context.close()

    pdf = pdfium.PdfDocument(str(pdf_path))
    pages = len(pdf)
    assert pages > 2, f"{CONFIRMED} confirmed matches fit on {pages} pages"
    texts = []
    for number in range(pages):
        sheet = pdf[number]
        width, height = sheet.get_size()
        assert (round(width, 1), round(height, 1)) == pytest.approx(A4_POINTS, abs=0.5)
        texts.append(sheet.get_textpage().get_text_bounded())
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {pages}" in text, f"page {number} has no page number"
        assert f"trainwatch overlap report, run #{built.run.pk}" in text
    everything = " ".join(texts)
    assert "Confirmed matches (24)" in everything
    assert f"{CONFIRMED} of {CONFIRMED}: catalog row" in everything
    assert "A cover." not in everything  # the rejected match is not listed
    # The confirmed matches start on a page of their own, after the figures.
    first_match = next(i for i, t in enumerate(texts) if f"1 of {CONFIRMED}: catalog row" in t)
    assert first_match >= 1 and "Figures" not in texts[first_match]

    # Pictures of the first page and of the first page of matches, for docs/ui.md.
    for name, index in (("11-printable-report", 0), ("11-printable-report-matches", first_match)):
        image = pdf[index].render(scale=1.5).to_pil()
        target = shots.directory / f"{name}.png"
        image.save(target)
        shots.taken.append(target)
    pdf.close()
