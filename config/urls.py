from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts import views as account_views
from config.health import healthz
from matcher import apis
from matcher import views as matcher_views
from uploads import views as upload_views

api_patterns = [
    path("datasets/", apis.DatasetListApi.as_view(), name="api-datasets"),
    path("runs/<int:pk>/", apis.RunDetailApi.as_view(), name="api-run-detail"),
]

urlpatterns = [
    path("", matcher_views.dashboard, name="dashboard"),
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("organization/switch/", account_views.organization_switch, name="org-switch"),
    path("catalogs/upload/", upload_views.catalog_upload, name="catalog-upload"),
    path(
        "catalogs/upload/<uuid:pk>/",
        upload_views.catalog_upload_mapping,
        name="catalog-upload-mapping",
    ),
    path("runs/<int:pk>/", matcher_views.run_detail, name="run-detail"),
    path("runs/<int:pk>/status.json", matcher_views.run_status, name="run-status"),
    path("runs/<int:pk>/cancel/", matcher_views.run_cancel, name="run-cancel"),
    path("runs/<int:pk>/report.csv", matcher_views.run_report_csv, name="run-report-csv"),
    path("runs/<int:pk>/report.xlsx", matcher_views.run_report_xlsx, name="run-report-xlsx"),
    path("runs/<int:pk>/evidence.zip", matcher_views.run_evidence_pack, name="run-evidence-pack"),
    path("runs/<int:pk>/verdicts/", matcher_views.run_bulk_verdict, name="run-bulk-verdict"),
    path("runs/<int:pk>/rerun/", matcher_views.run_rerun, name="run-rerun"),
    path("runs/<int:pk>/diff/", matcher_views.run_diff, name="run-diff"),
    path("matches/<int:pk>/", matcher_views.match_evidence, name="match-evidence"),
    path("matches/<int:pk>/verdict/", matcher_views.match_verdict, name="match-verdict"),
    path("datasets/", matcher_views.dataset_list, name="dataset-list"),
    path("api/", include(api_patterns)),
    path("admin/", admin.site.urls),
]
