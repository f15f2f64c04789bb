"""Account routes (mounted at the root of the API, as upstream)."""

from django.urls import path

from obsarchive.server.accounts import views

urlpatterns = [
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("api-token-auth/", views.ObtainTokenView.as_view(), name="api-token-auth"),
    path("revoke_token/", views.RevokeTokenView.as_view(), name="revoke_api_token"),
    path("authprofile/addupdateuser/", views.AddUpdateUserView.as_view(), name="add_update_user"),
]
