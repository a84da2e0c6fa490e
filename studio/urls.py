"""Top-level routes: the web UI, the admin, the studio API and team review."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from .login import ThrottledLoginView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("api.urls")),
    path("", include("review.urls")),
    path("", include("videos.urls")),
]
