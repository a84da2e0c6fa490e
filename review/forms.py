"""Every input of the review pages: history filters, judging, compare, recipes, usage."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Avg, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from api.models import ApiKey
from videos.models import ASPECT_RATIOS, Generation, Kind, Mode, Project, Status, VideoModel

from . import search
from .models import Rating, SavedSearch, Star, Tagging, normalise_tag

PAGE_SIZES = [10, 25, 50, 100]
DEFAULT_PAGE_SIZE = 25
BLANK = [("", "any")]


def day_start(day: date) -> datetime:
    """Midnight at the start of a day in the studio's time zone: date filters are [from, to+1)."""
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _choices(pairs: Any) -> list[tuple[str, str]]:
    return BLANK + list(pairs)


class HistoryFilterForm(forms.Form):
    """The history's search and filters; they live in the URL so a view can be shared."""

    q = forms.CharField(required=False, max_length=200, label=_("Search"))
    mine = forms.BooleanField(required=False, label=_("Only mine"))
    author = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        to_field_name="username", required=False, empty_label=_("anyone"), label=_("Author"),
    )  # fmt: skip
    project = forms.ModelChoiceField(
        queryset=Project.objects.all(), required=False, empty_label=_("any project"),
        label=_("Project"),
    )  # fmt: skip
    model = forms.ChoiceField(required=False, label=_("Model"))
    kind = forms.ChoiceField(choices=_choices(Kind.choices), required=False, label=_("Kind"))
    status = forms.ChoiceField(choices=_choices(Status.choices), required=False, label=_("Status"))
    mode = forms.ChoiceField(choices=_choices(Mode.choices), required=False, label=_("Mode"))
    duration = forms.IntegerField(required=False, min_value=1, max_value=60, label=_("Duration"))
    aspect_ratio = forms.ChoiceField(
        choices=_choices((r, r) for r in ASPECT_RATIOS), required=False, label=_("Aspect ratio")
    )
    date_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Date from")
    )
    date_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Date to")
    )
    starred = forms.BooleanField(required=False, label=_("Starred by me"))
    rating = forms.TypedChoiceField(
        coerce=int, required=False, label=_("Team rating"),
        choices=_choices((str(n), f"≥ {n}") for n in range(1, 6)),
    )  # fmt: skip
    tag = forms.CharField(required=False, max_length=50, label=_("Tag"))
    source = forms.ChoiceField(required=False, label=_("API key or web"))
    per = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=DEFAULT_PAGE_SIZE, label=_("Per page"),
        choices=[(str(n), str(n)) for n in PAGE_SIZES],
    )  # fmt: skip
    before = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name != "q":  # the search box reloads as you type, not on blur
                field.widget.attrs["class"] = "live-filter"
        names = VideoModel.objects.values_list("name", flat=True)
        self.fields["model"].choices = _choices((n, n) for n in names)
        keys = ApiKey.objects.select_related("owner").order_by("name")
        self.fields["source"].choices = (
            BLANK
            + [("web", _("web UI")), ("api", _("any API key"))]
            + [
                (
                    f"key-{key.pk}",
                    _("key %(name)s (%(owner)s)") % {"name": key.name, "owner": key.owner},
                )
                for key in keys
            ]
        )

    def clean_tag(self) -> str:
        return normalise_tag(self.cleaned_data["tag"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data

    def filter(self, queryset: QuerySet[Generation], user: Any) -> QuerySet[Generation]:
        """Apply every filter except the search words and the page (see page())."""
        data = self.cleaned_data
        exact = {
            "model_name": data.get("model"),
            "kind": data.get("kind"),
            "status": data.get("status"),
            "mode": data.get("mode"),
            "duration": data.get("duration"),
            "aspect_ratio": data.get("aspect_ratio"),
            "owner": data.get("author"),
            "project": data.get("project"),
        }
        queryset = queryset.filter(**{k: v for k, v in exact.items() if v not in (None, "")})
        if data.get("mine"):
            queryset = queryset.filter(owner=user)
        if data.get("date_from"):
            queryset = queryset.filter(created_at__gte=day_start(data["date_from"]))
        if data.get("date_to"):
            queryset = queryset.filter(
                created_at__lt=day_start(data["date_to"] + timedelta(days=1))
            )
        if data.get("starred"):
            queryset = queryset.filter(pk__in=Star.objects.filter(user=user).values("generation"))
        if data.get("rating"):
            rated = (
                Rating.objects.values("generation")
                .annotate(average=Avg("value"))
                .filter(average__gte=data["rating"])
                .values("generation")
            )
            queryset = queryset.filter(pk__in=rated)
        if data.get("tag"):
            queryset = queryset.filter(
                pk__in=Tagging.objects.filter(tag__name=data["tag"]).values("generation")
            )
        source = data.get("source")
        if source == "web":
            queryset = queryset.filter(api_key__isnull=True)
        elif source == "api":
            queryset = queryset.filter(api_key__isnull=False)
        elif source and source.startswith("key-"):
            queryset = queryset.filter(api_key_id=int(source.removeprefix("key-")))
        return queryset

    def results(self, queryset: QuerySet[Generation], user: Any) -> QuerySet[Generation]:
        """Filtered and searched, newest first, from the cursor on: slice it for a page."""
        data = self.cleaned_data
        return search.search(self.filter(queryset, user), data.get("q", ""), data.get("before"))

    @property
    def page_size(self) -> int:
        return self.cleaned_data.get("per") or DEFAULT_PAGE_SIZE


# Generation ids are BigAutoField primary keys: an id past this cannot exist, and the
# database driver raises OverflowError (a 500) if asked for one.
MAX_ID = 2**63 - 1
ASCII_DIGITS = re.compile(r"[0-9]+")  # not \d or str.isdigit(): they accept "²" and "١"


class IdListField(forms.Field):
    """Several generation ids (?ids=1&ids=2, or ?ids=1,2 in a hand-shared link)."""

    widget = forms.MultipleHiddenInput

    default_error_messages = {
        "invalid": _("“{value}” is not a generation id."),
        "too_few": _("Select at least {min} generations."),
        "too_many": _("Select at most {max} generations; {count} were selected."),
    }

    def __init__(self, *, min_count: int, max_count: int, **kwargs: Any) -> None:
        self.min_count, self.max_count = min_count, max_count
        # min_count says what is required, with a message that names the action.
        super().__init__(required=False, **kwargs)

    def to_python(self, value: Any) -> list[int]:
        values = value if isinstance(value, list | tuple) else ([value] if value else [])
        values = [part.strip() for v in values for part in str(v).split(",") if part.strip()]
        for v in values:
            if len(v) > 19 or not ASCII_DIGITS.fullmatch(v) or not 0 < int(v) <= MAX_ID:
                self.fail("invalid", value=v[:30])
        ids = list(dict.fromkeys(int(v) for v in values))  # keep order, drop repeats
        if len(ids) < self.min_count:
            self.fail("too_few", min=self.min_count, count=len(ids))
        if len(ids) > self.max_count:
            self.fail("too_many", max=self.max_count, count=len(ids))
        return ids

    def fail(self, code: str, **values: Any) -> None:
        raise ValidationError(self.error_messages[code].format(**values), code=code)


class SelectionForm(forms.Form):
    """A selection of generations visible to the user, in the order they were picked."""

    ids = IdListField(
        min_count=1, max_count=500,
        error_messages={"too_few": _("Select at least one generation to download.")},
    )  # fmt: skip

    def __init__(self, *args: Any, visible: QuerySet[Generation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.visible = visible

    def clean_ids(self) -> list[Generation]:
        ids = self.cleaned_data["ids"]
        found = self.visible.select_related("owner", "provider", "api_key").in_bulk(ids)
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise ValidationError(
                _("No such generation: %(ids)s."),
                code="missing",
                params={"ids": ", ".join(missing)},
            )
        return [found[pk] for pk in ids]


class CompareForm(SelectionForm):
    ids = IdListField(
        min_count=2, max_count=4,
        error_messages={
            "too_few": _("Select at least 2 generations to compare."),
            "too_many": _("Compare shows at most 4 generations; {count} were selected."),
        },
    )  # fmt: skip


class RatingForm(forms.Form):
    value = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False,
        choices=[("", _("clear"))] + [(str(n), str(n)) for n in range(1, 6)],
    )  # fmt: skip


class TagForm(forms.Form):
    name = forms.CharField(max_length=50, label=_("Tag"))

    def clean_name(self) -> str:
        name = normalise_tag(self.cleaned_data["name"])
        if not name:
            raise ValidationError(_("A tag needs letters or digits."), code="invalid")
        return name


class TagSuggestForm(forms.Form):
    name = forms.CharField(max_length=50, required=False)


class CommentForm(forms.Form):
    body = forms.CharField(
        max_length=4000, label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2})
    )
    # Filled in by review.js from the player's currentTime when the video is playing.
    timecode = forms.FloatField(
        required=False, min_value=0, max_value=24 * 3600, widget=forms.HiddenInput
    )


class SavedSearchForm(forms.ModelForm):
    class Meta:
        model = SavedSearch
        fields = ["name", "query"]
        widgets = {"query": forms.HiddenInput}

    def clean_query(self) -> str:
        # Keep the filters, never the page: a saved search starts at the newest.
        params = QueryDict(self.cleaned_data["query"].lstrip("?"), mutable=True)
        params.pop("before", None)
        return params.urlencode()


class RecipeForm(forms.Form):
    name = forms.CharField(max_length=100, label=_("Name"))
    notes = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}), label=_("Notes")
    )


class UsageForm(forms.Form):
    """The usage page's period: the last N days, or explicit dates."""

    days = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=30, label=_("Period"),
        choices=[("1", _("last day")), ("7", _("last 7 days")), ("30", _("last 30 days")),
                 ("90", _("last 90 days")), ("365", _("last year"))],
    )  # fmt: skip
    date_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Date from")
    )
    date_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label=_("Date to")
    )

    def period(self) -> tuple[datetime, datetime]:
        """[start, end) of the chosen period."""
        data = self.cleaned_data
        end = timezone.now()
        if data.get("date_to"):
            end = day_start(data["date_to"] + timedelta(days=1))
        if data.get("date_from"):
            start = day_start(data["date_from"])
        else:
            start = end - timedelta(days=data.get("days") or 30)
        return start, end

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
