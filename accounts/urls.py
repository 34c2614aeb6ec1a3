"""Account pages: sign-in and out, password reset, organization switching, API tokens, members
and invitations."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            subject_template_name="registration/password_reset_subject.txt"
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("organization/switch/", views.organization_switch, name="org-switch"),
    path("organization/members/", views.organization_members, name="org-members"),
    path(
        "organization/members/<int:pk>/role/",
        views.organization_member_role,
        name="org-member-role",
    ),
    path(
        "organization/members/<int:pk>/remove/",
        views.organization_member_remove,
        name="org-member-remove",
    ),
    path(
        "organization/invitations/<int:pk>/revoke/",
        views.organization_invitation_revoke,
        name="org-invitation-revoke",
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("account/tokens/", views.account_tokens, name="account-tokens"),
    path(
        "account/tokens/<int:pk>/revoke/",
        views.account_token_revoke,
        name="account-token-revoke",
    ),
]
