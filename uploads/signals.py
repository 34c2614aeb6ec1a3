"""What happens to a catalog, for whoever needs to act on it (matcher starts, releases and
cancels its runs; receivers are connected in matcher/apps.py). uploads itself knows nothing of
its receivers.

Each signal is sent with ``sender=Catalog`` and ``catalog=`` the catalog, inside the transaction
that changes it, so a receiver's writes commit or roll back with it:

- ``catalog_confirmed``: a pending upload became a catalog whose rows are about to be stored
  (status "storing"). Also sent: ``confirmed_by`` (the user, or None) and ``options`` (what the
  caller of pending_upload_confirm passed on for the receivers; matcher reads "datasets"). A
  receiver refuses the catalog by raising CatalogRefused: nothing is kept, and its message
  becomes the user's.
- ``catalog_rows_settled``: the confirmed catalog's rows are stored ("ready") or could not be
  ("failed", with ``catalog.error``); sent once per catalog, with the catalog row locked.
- ``catalog_deleting``: the catalog is about to be deleted, with its rows.
"""

from __future__ import annotations

from django.dispatch import Signal

catalog_confirmed = Signal()
catalog_rows_settled = Signal()
catalog_deleting = Signal()


class CatalogRefused(Exception):
    """A catalog_confirmed receiver's refusal (e.g. no dataset imported yet to match against);
    str() is the message for the person who confirmed the upload."""
