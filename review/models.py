"""Team review of generations: stars, ratings, tags, comments, saved searches and recipes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import (
    Avg,
    Count,
    Exists,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from videos.forms import camera_fields_from_json
from videos.models import Generation, Status

from . import search

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

# Letters and digits of any script (\w), so a Chinese team's tags (宠物) survive.
TAG_NAME = re.compile(r"[^\w\-]+")


def normalise_tag(name: str) -> str:
    """One spelling per tag: lower case, words joined by dashes ("Slow Motion" → "slow-motion")."""
    return TAG_NAME.sub("-", name.strip().lower()).strip("-")[:50]


class Star(models.Model):
    """A user's bookmark on a generation: personal, shown as "starred" in their history."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="stars"
    )
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="stars")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "generation"], name="star_once_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} ★ {self.generation_id}"

    @classmethod
    def toggle(cls, user: AbstractBaseUser, generation: Generation) -> bool:
        """Star or unstar; returns whether the generation is now starred."""
        deleted, _ = cls.objects.filter(user=user, generation=generation).delete()
        if deleted:
            return False
        # get_or_create: a double click races two inserts; the unique constraint keeps one.
        cls.objects.get_or_create(user=user, generation=generation)
        return True


class Rating(models.Model):
    """A user's 1–5 judgement of a generation; the team average is shown beside it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings"
    )
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="ratings")
    value = models.PositiveSmallIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "generation"], name="rating_once_per_user"),
            models.CheckConstraint(
                condition=Q(value__gte=1, value__lte=5), name="rating_between_1_and_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} rated {self.generation_id}: {self.value}"

    @classmethod
    def set(cls, user: AbstractBaseUser, generation: Generation, value: int | None) -> None:
        """Set (None clears) a user's rating: an upsert, so two tabs cannot make two rows."""
        if not value:
            cls.objects.filter(user=user, generation=generation).delete()
            return
        cls.objects.update_or_create(
            user=user,
            generation=generation,
            defaults={"value": value, "updated_at": timezone.now()},
        )


class TagQuerySet(models.QuerySet["Tag"]):
    def suggest(self, prefix: str, limit: int = 10) -> TagQuerySet:
        """Tags starting with the prefix, most used first: the autocomplete list."""
        return (
            self.filter(name__startswith=normalise_tag(prefix))
            .annotate(uses=Count("taggings"))
            .order_by("-uses", "name")[:limit]
        )


class Tag(models.Model):
    """A word of the team's shared vocabulary."""

    name = models.SlugField(max_length=50, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tagging(models.Model):
    """A tag put on a generation, and who put it there (who may take it off)."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="taggings")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="taggings")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tag__name"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "tag"], name="tag_once_per_generation")
        ]
        indexes = [models.Index(fields=["tag", "generation"], name="tagging_by_tag")]

    def __str__(self) -> str:
        return f"{self.generation_id} #{self.tag_id}"

    @classmethod
    def add(cls, generation: Generation, name: str, user: AbstractBaseUser) -> Tagging:
        """Tag a generation, creating the tag in the shared vocabulary if it is new."""
        with transaction.atomic():
            tag, _ = Tag.objects.get_or_create(
                name=normalise_tag(name), defaults={"created_by": user}
            )
            tagging, _ = cls.objects.get_or_create(
                generation=generation, tag=tag, defaults={"added_by": user}
            )
            search.reindex(generation.pk)
        return tagging

    def can_be_removed_by(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """Whoever tagged, the generation's owner, or an admin may take a tag off."""
        return user.is_authenticated and (
            user.is_staff or user.pk in (self.added_by_id, self.generation.owner_id)
        )

    def remove(self) -> None:
        with transaction.atomic():
            self.delete()
            search.reindex(self.generation_id)


class Comment(models.Model):
    """Plain-text feedback on a generation, optionally pinned to a moment of its video."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_comments"
    )
    body = models.TextField(max_length=4000)
    timecode = models.FloatField(null=True, blank=True, help_text=_("seconds into the video"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["generation", "created_at"], name="comment_by_generation")]

    def __str__(self) -> str:
        return f"{self.author_id} on {self.generation_id}: {self.body[:40]}"

    @classmethod
    def post(
        cls, generation: Generation, author: AbstractBaseUser, body: str, timecode: float | None
    ) -> Comment:
        with transaction.atomic():
            comment = cls.objects.create(
                generation=generation, author=author, body=body, timecode=timecode
            )
            search.reindex(generation.pk)
        return comment

    @property
    def timecode_label(self) -> str:
        """m:ss.s, as people say it."""
        if self.timecode is None:
            return ""
        minutes, seconds = divmod(self.timecode, 60)
        return f"{int(minutes)}:{seconds:04.1f}"

    def can_be_deleted_by(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        """A comment is its author's words: only they (or an admin) may delete it."""
        return user.is_authenticated and (user.is_staff or user.pk == self.author_id)

    def remove(self) -> None:
        with transaction.atomic():
            self.delete()
            search.reindex(self.generation_id)


class SavedSearch(models.Model):
    """A named history query string of one user (filters and search as in the URL)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_searches"
    )
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_search_name_per_user")
        ]

    def __str__(self) -> str:
        return self.name


# Parameters a recipe keeps: exactly what GenerationForm accepts for a new job.
RECIPE_FIELDS = (
    "kind", "model_name", "mode", "prompt", "negative_prompt", "cfg_scale",
    "duration", "aspect_ratio", "camera_control", "image_url", "image_tail_url", "sound",
)  # fmt: skip
# The kinds' own settings (Generation.params: effect_scene, multi_shot, voice_list...) go to
# their form under the Kling names they were read from; these are derived, not inputs.
DERIVED_PARAMS = ("dual",)


class RecipeQuerySet(models.QuerySet["Recipe"]):
    def with_stats(self) -> RecipeQuerySet:
        """How each recipe's runs did: count, failures, average rating, units (one query)."""
        runs = RecipeRun.objects.filter(recipe=OuterRef("pk")).values("recipe")
        ratings = Rating.objects.filter(generation__recipe_run__recipe=OuterRef("pk"))
        # Subqueries, not joins: joining runs and ratings in one GROUP BY would count
        # a run's units once per rating it got.
        return self.select_related("owner", "source").annotate(
            run_count=Coalesce(Subquery(runs.annotate(n=Count("pk")).values("n")), 0),
            failed_count=Coalesce(
                Subquery(
                    runs.filter(generation__status=Status.FAILED)
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                0,
            ),
            finished_count=Coalesce(
                Subquery(
                    runs.filter(generation__status__in=Generation.TERMINAL)
                    .annotate(n=Count("pk"))
                    .values("n")
                ),
                0,
            ),
            units_total=Subquery(
                runs.annotate(s=Sum("generation__units")).values("s"),
                output_field=models.DecimalField(max_digits=14, decimal_places=2),
            ),
            average_rating=Subquery(
                ratings.values("generation__recipe_run__recipe")
                .annotate(a=Avg("value"))
                .values("a")
            ),
        )


class Recipe(models.Model):
    """A named, reusable parameter set taken from a generation that worked."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recipes"
    )
    name = models.CharField(max_length=100)
    notes = models.TextField(blank=True, max_length=2000)
    parameters = models.JSONField(default=dict)
    source = models.ForeignKey(
        Generation, null=True, blank=True, on_delete=models.SET_NULL, related_name="recipes"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = RecipeQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_generation(
        cls, generation: Generation, owner: AbstractBaseUser, name: str, notes: str = ""
    ) -> Recipe:
        """Save a generation's full parameter set under a name."""
        params = {field: getattr(generation, field) for field in RECIPE_FIELDS}
        params["params"] = dict(generation.params or {})
        # A newer kind's inputs (photos of an effect...): URL, or the stored file reused.
        params["inputs"] = [
            {"role": i.role, "position": i.position, "url": i.url, "file": i.file.name or ""}
            for i in generation.inputs.order_by("role", "position")
        ]
        if generation.image and not generation.image_url:
            params["image_file"] = generation.image.name  # reused as an upload when run
        if generation.image_tail and not generation.image_tail_url:
            params["image_tail_file"] = generation.image_tail.name
        return cls.objects.create(
            owner=owner, name=name, notes=notes, parameters=params, source=generation
        )

    def form_class(self) -> type:
        """The form of the recipe's kind: its own (effects...) or the classic one."""
        from videos.forms import GenerationForm
        from videos.kinds import KINDS

        spec = KINDS.get(self.parameters.get("kind") or "text2video")
        return (spec.form_class if spec else None) or GenerationForm

    def form_input(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The kind's form data for a new run, and stored input files by form field."""
        params = self.parameters
        data = {
            key: params[key]
            for key in RECIPE_FIELDS
            if key not in ("camera_control", "sound") and params.get(key) not in (None, "")
        }
        if params.get("sound"):
            data["sound"] = "on"
        kind_params = params.get("params") or {}
        data.update({k: v for k, v in kind_params.items() if k not in DERIVED_PARAMS})
        camera = camera_fields_from_json(params.get("camera_control"))
        camera.pop("_camera_has_config", None)
        data.update({key: value for key, value in camera.items() if value is not None})
        files = {
            field: params[f"{field}_file"]
            for field in ("image", "image_tail")
            if params.get(f"{field}_file")
        }
        inputs = params.get("inputs") or []
        # A kind whose form names its inputs otherwise (lists, videos, audio) says how.
        replay = getattr(self.form_class(), "replay_inputs", None)
        if replay is not None:
            more_data, more_files = replay(inputs)
            return {**data, **more_data}, {**files, **more_files}
        for item in inputs:
            # The web form's field of each input: the role, then role_2, role_3... (effects).
            position = int(item.get("position") or 0)
            field = item["role"] if position == 0 else f"{item['role']}_{position + 1}"
            if item.get("url"):
                data[field] = item["url"]
            elif item.get("file"):
                files[field] = item["file"]
        return data, files

    def form_url(self) -> str:
        """The create form of the recipe's kind, prefilled (to tweak before running)."""
        from videos.kinds import KINDS

        kind = self.parameters.get("kind") or "text2video"
        spec = KINDS.get(kind)
        if spec is not None and spec.form_class is not None:
            return f"{reverse('kind_new', args=[kind])}?{self.form_query()}"
        return f"{reverse('generation_new')}?{self.form_query()}"

    def kind_summary(self) -> str:
        """The kind and its key settings, as history rows show them ("Effect · scene x")."""
        p = self.parameters
        sketch = Generation(
            kind=p.get("kind") or "text2video",
            sound=bool(p.get("sound")),
            params=p.get("params") or {},
        )
        words = [
            f"{name} {value}" if name != "shots" else value
            for name, value in sketch.key_params().items()
        ]
        return " · ".join([sketch.get_kind_display(), *words])

    def form_query(self) -> str:
        """The create form's query string, prefilled with this recipe (to tweak before running)."""
        data, _ = self.form_input()
        # A kind's structured settings (shot prompts, watermark_info) travel as JSON, which
        # their form fields read back; urlencode alone would write Python's repr.
        return urlencode(
            {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in data.items()}
        )

    def failure_rate(self) -> Decimal | None:
        """Failed share of finished runs, from the with_stats() annotations."""
        finished = getattr(self, "finished_count", 0)
        if not finished:
            return None
        return Decimal(100 * self.failed_count / finished).quantize(Decimal("1"))

    def can_be_changed_by(self, user: AbstractBaseUser | AnonymousUser) -> bool:
        return user.is_authenticated and (user.is_staff or user.pk == self.owner_id)

    def record_run(self, generation: Generation) -> RecipeRun:
        try:
            with transaction.atomic():
                return RecipeRun.objects.create(recipe=self, generation=generation)
        except IntegrityError:  # already counted (a retried POST)
            return RecipeRun.objects.get(generation=generation)


class RecipeRun(models.Model):
    """A generation started from a recipe: how the recipe's track record is counted."""

    recipe = models.ForeignKey(Recipe, on_delete=models.CASCADE, related_name="runs")
    generation = models.OneToOneField(
        Generation, on_delete=models.CASCADE, related_name="recipe_run"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.recipe_id} → {self.generation_id}"


def with_review(queryset: QuerySet[Generation], user: AbstractBaseUser) -> QuerySet[Generation]:
    """Generations with their judging facts for one viewer, without a query per row.

    Correlated subqueries rather than JOIN + GROUP BY: they are evaluated only for the
    rows of the page, so the keyset index scan still stops after `page size` rows.
    """
    ratings = Rating.objects.filter(generation=OuterRef("pk")).values("generation")
    comments = Comment.objects.filter(generation=OuterRef("pk")).values("generation")
    mine = Rating.objects.filter(generation=OuterRef("pk"), user=user).values("value")[:1]
    return (
        queryset.select_related("owner", "provider", "api_key", "project")
        .annotate(
            rating_average=Subquery(ratings.annotate(a=Avg("value")).values("a")),
            rating_count=Coalesce(Subquery(ratings.annotate(n=Count("pk")).values("n")), 0),
            my_rating=Subquery(mine),
            starred=Exists(Star.objects.filter(generation=OuterRef("pk"), user=user)),
            comment_count=Coalesce(Subquery(comments.annotate(n=Count("pk")).values("n")), 0),
        )
        .prefetch_related(
            Prefetch(
                "taggings", queryset=Tagging.objects.select_related("tag").order_by("tag__name")
            )
        )
    )


@dataclass
class JudgingState:
    """What the judging panel of one generation shows to one viewer."""

    generation: Generation
    starred: bool
    my_rating: int | None
    average: float | None
    count: int
    taggings: list[Tagging]
    comments: list[Comment]

    @classmethod
    def load(cls, generation: Generation, user: AbstractBaseUser) -> JudgingState:
        # The team's average and count and the viewer's own rating: one pass over the ratings.
        ratings = Rating.objects.filter(generation=generation).aggregate(
            average=Avg("value"), count=Count("id"), mine=Max("value", filter=Q(user=user))
        )
        taggings = list(generation.taggings.select_related("tag").order_by("tag__name"))
        comments = list(generation.comments.select_related("author"))
        for item in taggings + comments:
            item.generation = generation  # the permission checks read its owner
        for tagging in taggings:
            tagging.removable = tagging.can_be_removed_by(user)
        for comment in comments:
            comment.deletable = comment.can_be_deleted_by(user)
        return cls(
            generation=generation,
            starred=Star.objects.filter(generation=generation, user=user).exists(),
            my_rating=ratings["mine"],
            average=ratings["average"],
            count=ratings["count"],
            taggings=taggings,
            comments=comments,
        )
