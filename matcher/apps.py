from django.apps import AppConfig


class MatcherConfig(AppConfig):
    name = "matcher"
    verbose_name = "Datasets and matching"

    def ready(self) -> None:
        # uploads sends what happens to a catalog; matching acts on it (matcher.catalogs).
        from matcher import catalogs
        from uploads import signals
        from uploads.models import Catalog

        signals.catalog_confirmed.connect(
            catalogs.on_catalog_confirmed, sender=Catalog, dispatch_uid="matcher-run-create"
        )
        signals.catalog_rows_settled.connect(
            catalogs.on_catalog_rows_settled, sender=Catalog, dispatch_uid="matcher-run-release"
        )
        signals.catalog_deleting.connect(
            catalogs.on_catalog_deleting, sender=Catalog, dispatch_uid="matcher-run-cancel"
        )
