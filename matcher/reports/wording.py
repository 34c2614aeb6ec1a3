"""How the report words its figures: counts with their noun in the right number, and what each
figure counts, written once for the run page, the API, the exports and the docs to agree."""

from __future__ import annotations


def counted(n: int, singular: str, plural: str = "") -> str:
    """`1 row`, `2 rows`, `1,204 matches`: the count with thousands separators and its noun
    (the plural given, else the singular with an s)."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


# Figure -> (label, what it counts). The XLSX Summary sheet lists them beside their values, the
# run page explains them, the API's schema describes its fields with them.
FIGURES: dict[str, tuple[str, str]] = {
    "rows": ("Catalog rows", "Every row of the catalog below its header, valid or not."),
    "matched": (
        "Rows found",
        "Catalog rows found in at least one dataset. A duplicate of an earlier row (the same "
        "artist, title, version and ISRC, case and accents aside) is matched once, through "
        "that row: "
        "it is found when its original is, counted as a row found, and reported with its "
        "original's matches.",
    ),
    "found_duplicates": (
        "of them duplicates of an earlier row",
        "Rows found that repeat an earlier row of the catalog, reported with their original's "
        "matches.",
    ),
    "unmatched": ("Rows not found", "Valid rows found in no dataset."),
    "invalid": (
        "Invalid rows (not checked)",
        "Rows that could not be checked (an empty artist or title...); the catalog page lists "
        "each with the reason.",
    ),
    "unchecked": ("Rows not reached", "Rows a cancelled run did not check."),
    "matches": (
        "Matches",
        "Pairs of a catalog row and a dataset track, each with its own evidence and verdict; "
        "a row can have several (in several datasets, or several tracks of one dataset). A "
        "duplicate row has no matches of its own.",
    ),
    "match_lines": (
        "Match lines",
        "Lines of the CSV and of the XLSX's All rows sheet that name a match: one per match of "
        "each row found, so a match appears again on the line of each duplicate of its row.",
    ),
    "lines": (
        "Report lines",
        "All lines of the CSV (its header aside) and of the XLSX's All rows sheet: the match "
        "lines, and one line for each row not found or invalid.",
    ),
    "dataset_found": (
        "Rows found in the dataset",
        "Catalog rows with a match in this dataset, counted as the rows found are (duplicates "
        "included), each once, under the kind of its best match there.",
    ),
    "share": ("Share", "Rows found in the dataset, as a part of all catalog rows."),
    "reviewed": ("Reviewed matches", "Matches with a verdict (a verdict is on a match)."),
    "confirmed": ("Confirmed matches", "Matches whose verdict is confirmed."),
    "confirmed_rows": (
        "Rows with a confirmed match",
        "Catalog rows with a confirmed match, duplicates of such a row included.",
    ),
}


def label(name: str) -> str:
    return FIGURES[name][0]


def definition(name: str) -> str:
    return FIGURES[name][1]
