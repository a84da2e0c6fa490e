"""Top-level routes: the web UI, the admin, the studio API and team review.

Errors render templates/400.html, 403.html, 404.html and 500.html (Django's default
handlers find them by name): styled like every page, with ways back.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from .login import ThrottledLoginView
from .views import favicon, set_language

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("", include("api.urls")),
    path("", include("review.urls")),
    path("", include("videos.urls")),
]
