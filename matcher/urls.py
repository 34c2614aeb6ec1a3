"""Pages for a catalog's mapping and its page (uploads' pages with matching's parts), runs,
reports, evidence, review and datasets."""

from django.urls import path

from matcher import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("catalogs/upload/<uuid:pk>/", views.catalog_upload_mapping, name="catalog-upload-mapping"),
    path("catalogs/<int:pk>/", views.catalog_detail, name="catalog-detail"),
    path("catalogs/<int:pk>/start/", views.catalog_run_start, name="catalog-run-start"),
    path("runs/<int:pk>/", views.run_detail, name="run-detail"),
    path("runs/<int:pk>/status.json", views.run_status, name="run-status"),
    path("runs/<int:pk>/progress/", views.run_progress_fragment, name="run-progress"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/report.csv", views.run_report_csv, name="run-report-csv"),
    path("runs/<int:pk>/report.xlsx", views.run_report_xlsx, name="run-report-xlsx"),
    path("runs/<int:pk>/report.html", views.run_report_print, name="run-report-print"),
    path("runs/<int:pk>/evidence.zip", views.run_evidence_pack, name="run-evidence-pack"),
    path("runs/<int:pk>/verdicts/", views.run_bulk_verdict, name="run-bulk-verdict"),
    path("runs/<int:pk>/rerun/", views.run_rerun, name="run-rerun"),
    path("runs/<int:pk>/diff/", views.run_diff, name="run-diff"),
    path("matches/<int:pk>/", views.match_evidence, name="match-evidence"),
    path("matches/<int:pk>/verdict/", views.match_verdict, name="match-verdict"),
    path("matches/<int:pk>/verdict/undo/", views.match_verdict_undo, name="match-verdict-undo"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/<slug:slug>/", views.dataset_detail, name="dataset-detail"),
]
