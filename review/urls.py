"""Routes of the review app: history, judging, compare, lineage, recipes, exports and usage."""

from django.urls import path

from . import views

urlpatterns = [
    path("history/", views.history, name="history"),
    path("history/export.<str:fmt>", views.history_export, name="history_export"),
    path("history/videos.zip", views.history_zip, name="history_zip"),
    path("history/saved/", views.saved_search_create, name="saved_search_create"),
    path("history/saved/<int:pk>/delete/", views.saved_search_delete, name="saved_search_delete"),
    path("compare/", views.compare, name="compare"),
    path("review/<int:pk>/", views.judging, name="judging"),
    path("review/<int:pk>/star/", views.star, name="star"),
    path("review/<int:pk>/rate/", views.rate, name="rate"),
    path("review/<int:pk>/tags/", views.tag_add, name="tag_add"),
    path("review/<int:pk>/tags/<int:tag_pk>/remove/", views.tag_remove, name="tag_remove"),
    path("review/<int:pk>/comments/", views.comment_add, name="comment_add"),
    path("review/comments/<int:pk>/delete/", views.comment_delete, name="comment_delete"),
    path("review/<int:pk>/lineage/", views.lineage, name="lineage"),
    path("review/<int:pk>/recipe/", views.recipe_create, name="recipe_create"),
    path("review/tags/", views.tag_suggestions, name="tag_suggestions"),
    path("recipes/", views.recipes, name="recipes"),
    path("recipes/<int:pk>/run/", views.recipe_run, name="recipe_run"),
    path("recipes/<int:pk>/delete/", views.recipe_delete, name="recipe_delete"),
    path("usage/", views.usage_page, name="usage"),
]
