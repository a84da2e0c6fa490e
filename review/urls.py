"""Routes of the review app."""

urlpatterns: list = []
