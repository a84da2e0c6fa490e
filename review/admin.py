"""Admin for review data: mostly for moderation (comments) and vocabulary care (tags)."""

from django.contrib import admin

from .models import Comment, Rating, Recipe, RecipeRun, SavedSearch, Star, Tag, Tagging


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "created_by", "created_at"]
    search_fields = ["name"]


@admin.register(Tagging)
class TaggingAdmin(admin.ModelAdmin):
    list_display = ["generation", "tag", "added_by", "created_at"]
    raw_id_fields = ["generation"]
    list_select_related = ["tag", "added_by"]


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin):
    list_display = ["generation", "author", "timecode", "created_at", "body"]
    raw_id_fields = ["generation"]
    search_fields = ["body"]
    list_select_related = ["author"]


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["generation", "user", "value", "updated_at"]
    raw_id_fields = ["generation"]


@admin.register(Star)
class StarAdmin(admin.ModelAdmin):
    list_display = ["generation", "user", "created_at"]
    raw_id_fields = ["generation"]


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
