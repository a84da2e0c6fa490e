"""Admin for review data: mostly for moderation (comments) and vocabulary care (tags)."""

from django.contrib import admin

from .models import Comment, Rating, Recipe, RecipeRun, SavedSearch, Star, Tag, Tagging


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name"]


class OnGenerationAdmin(admin.ModelAdmin):
    """A row hanging off a generation, picked by id: a select of every generation would not load."""

    # No list_select_related: Django joins every foreign key in list_display, where the
    # hand-written lists had left out `generation` and cost a query per row.
    raw_id_fields = ["generation"]


@admin.register(Tagging)
class TaggingAdmin(OnGenerationAdmin):
    list_display = ["generation", "tag", "added_by", "created_at"]


@admin.register(Comment)
class CommentAdmin(OnGenerationAdmin):
    list_display = ["generation", "author", "timecode", "created_at", "body"]
    search_fields = ["body"]


@admin.register(Rating)
class RatingAdmin(OnGenerationAdmin):
    list_display = ["generation", "user", "value", "updated_at"]


@admin.register(Star)
class StarAdmin(OnGenerationAdmin):
    list_display = ["generation", "user", "created_at"]


@admin.register(SavedSearch)
class SavedSearchAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "query"]


class RecipeRunInline(admin.TabularInline):
    model = RecipeRun
    raw_id_fields = ["generation"]
    extra = 0


@admin.register(Recipe)
class RecipeAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "source", "created_at"]
    raw_id_fields = ["source"]
    inlines = [RecipeRunInline]
