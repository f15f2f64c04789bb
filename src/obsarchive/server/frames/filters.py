"""Search parameters of ``GET /frames/`` (and of detail, related and headers, as upstream).

Every parameter of the reference (§2.2) with its upper-case alias; empty values and unknown
parameters are ignored; a malformed value gives a 400 keyed by the parameter, never a 500.
Sky parameters (``covers``, ``intersects`` and the ``ra``/``dec``/``radius`` cone) are applied
last, so their candidate query already carries every other restriction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from anyascii import anyascii
from django import forms
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django_filters.widgets import BooleanWidget
from rest_framework.exceptions import ValidationError

from obsarchive.server.accounts.visibility import is_superuser, proposals_for
from obsarchive.server.frames.conf import configuration_types, frames_settings
from obsarchive.server.frames.models import Frame, Thumbnail
from obsarchive.server.frames.sky import SkyQueryError, cone_region, restrict_to_region, wkt_region

__all__ = [
    "ORDERING_FIELDS",
    "FrameFilterSet",
    "ThumbnailFilterSet",
    "drop_empty_values",
    "ordering_from",
    "parse_bool",
]

INT64 = 2**63


class UTCDateTimeField(forms.DateTimeField):
    """A date/time (date-only means midnight, naive means UTC) converted to UTC.

    Converting here, not in the database adapter, turns an out-of-range value such as
    ``9999-12-31T23:00-05:00`` into a validation error instead of an ``OverflowError``.
    """

    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return result.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class UTCDateTimeFilter(django_filters.DateTimeFilter):
    field_class = UTCDateTimeField


class IntegerFilter(django_filters.NumberFilter):
    """An exact integer; values outside 64 bits are refused rather than overflowing SQLite."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", -INT64)
        kwargs.setdefault("max_value", INT64 - 1)
        super().__init__(*args, **kwargs)


class FloatFilter(django_filters.NumberFilter):
    """A finite float (``inf``/``nan`` are refused by the form field)."""

    field_class = forms.FloatField


def parse_bool(value: str | None) -> bool | None:
    """The upstream boolean query values: ``true/1`` and ``false/0`` in any case, else None."""
    if value is None:
        return None
    return {"1": True, "0": False, "true": True, "false": False}.get(value.strip().lower())


def _configuration_type_choices() -> list[tuple[str, str]]:
    return [(value, value) for value in configuration_types()]


def drop_empty_values(params: QueryDict) -> QueryDict:
    """A copy of ``params`` without empty values (the web client sends many ``?x=``)."""
    cleaned = QueryDict(mutable=True)
    for key, values in params.lists():
        kept = [v for v in values if v.strip() != ""]
        if kept:
            cleaned.setlist(key, kept)
    return cleaned


# ``ordering`` accepts these fields, each optionally prefixed with ``-``.
ORDERING_FIELDS = (
    "id",
    "basename",
    "observation_date",
    "primary_optical_element",
    "configuration_type",
    "proposal_id",
    "instrument_id",
    "target_name",
    "reduction_level",
    "exposure_time",
)
DEFAULT_ORDERING: tuple[tuple[str, bool], ...] = (("observation_date", True),)


def ordering_from(value: str | None) -> list[tuple[str, bool]]:
    """``ordering=a,-b`` as ``[(field, descending)]`` ending with ``id`` as the tie-breaker.

    Unknown fields are dropped; with none left the default ``-observation_date`` applies. The
    ``id`` tie-breaker makes pages stable (upstream leaves ties unordered).
    """
    fields: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for raw in (value or "").split(","):
        token = raw.strip()
        descending = token.startswith("-")
        name = token[1:] if descending else token
        if name in ORDERING_FIELDS and name not in seen:
            fields.append((name, descending))
            seen.add(name)
    if not fields:
        fields = list(DEFAULT_ORDERING)
    if "id" not in seen:
        fields.append(("id", fields[0][1]))
    return fields


class FrameFilterSet(django_filters.FilterSet):
    """The frame search filters (reference §2.2)."""

    start = UTCDateTimeFilter(field_name="observation_date", lookup_expr="gte")
    end = UTCDateTimeFilter(field_name="observation_date", lookup_expr="lte")
    DATE_OBS = UTCDateTimeFilter(field_name="observation_date")
    DAY_OBS = django_filters.DateFilter(field_name="observation_day")
    dayobs = django_filters.DateFilter(field_name="observation_day")
    basename = django_filters.CharFilter(lookup_expr="icontains")
    basename_exact = django_filters.CharFilter(field_name="basename")
    OBJECT = django_filters.CharFilter(field_name="target_name", lookup_expr="icontains")
    target_name = django_filters.CharFilter(method="filter_target_name")
    target_name_exact = django_filters.CharFilter(method="filter_target_name_exact")
    empty_target_name = django_filters.CharFilter(method="filter_empty_target_name")
    L1PUBDAT = UTCDateTimeFilter(field_name="public_date")
    # BooleanWidget: true/false/1/0 in any case; anything else is ignored, as upstream.
    public = django_filters.BooleanFilter(method="filter_public", widget=BooleanWidget)
    # obsarchive addition (docs/compatibility.md): only frames already public, whoever asks;
    # the web interface's "public data only" choice, which ``public`` cannot express.
    public_only = django_filters.BooleanFilter(method="filter_public_only", widget=BooleanWidget)
    EXPTIME = FloatFilter(field_name="exposure_time", lookup_expr="gte")
    exposure_time = FloatFilter(field_name="exposure_time", lookup_expr="gte")
    OBSTYPE = django_filters.CharFilter(field_name="configuration_type")
    configuration_type = django_filters.CharFilter(field_name="configuration_type")
    PROPID = django_filters.CharFilter(field_name="proposal_id")
    proposal_id = django_filters.CharFilter(field_name="proposal_id")
    INSTRUME = django_filters.CharFilter(field_name="instrument_id")
    instrument_id = django_filters.CharFilter(field_name="instrument_id")
    SITEID = django_filters.CharFilter(field_name="site_id")
    site_id = django_filters.CharFilter(field_name="site_id")
    TELID = django_filters.CharFilter(field_name="telescope_id")
    telescope_id = django_filters.CharFilter(field_name="telescope_id")
    FILTER = django_filters.CharFilter(field_name="primary_optical_element")
    primary_optical_element = django_filters.CharFilter(field_name="primary_optical_element")
    BLKUID = IntegerFilter(field_name="observation_id")
    observation_id = IntegerFilter(field_name="observation_id")
    REQNUM = IntegerFilter(field_name="request_id")
    request_id = IntegerFilter(field_name="request_id")
    RLEVEL = IntegerFilter(field_name="reduction_level")
    reduction_level = IntegerFilter(field_name="reduction_level")
    submitter = django_filters.CharFilter(method="filter_submitter")
    exclude_OBSTYPE = django_filters.MultipleChoiceFilter(
        field_name="configuration_type",
        choices=_configuration_type_choices,
        exclude=True,
        distinct=False,
    )
    exclude_configuration_type = django_filters.MultipleChoiceFilter(
        field_name="configuration_type",
        choices=_configuration_type_choices,
        exclude=True,
        distinct=False,
    )
    include_configuration_type = django_filters.MultipleChoiceFilter(
        field_name="configuration_type", choices=_configuration_type_choices, distinct=False
    )
    exclude_calibrations = django_filters.BooleanFilter(
        method="filter_exclude_calibrations", widget=BooleanWidget
    )
    # Sky parameters: validated by the form, applied by filter_queryset after everything else.
    covers = django_filters.CharFilter(method="filter_noop")
    intersects = django_filters.CharFilter(method="filter_noop")
    ra = FloatFilter(method="filter_noop", min_value=-360.0, max_value=360.0)
    dec = FloatFilter(method="filter_noop", min_value=-90.0, max_value=90.0)
    radius = FloatFilter(method="filter_noop", min_value=0.0, max_value=180.0)

    SKY_PARAMETERS = ("covers", "intersects", "ra", "dec", "radius")

    class Meta:
        model = Frame
        fields: list[str] = []

    def __init__(
        self, data: QueryDict | None = None, *args: Any, now: datetime | None = None, **kwargs: Any
    ) -> None:
        if data is not None:
            # Only the filters a request uses are copied and turned into form fields: building
            # all fifty-odd costs more than the database work of a typical search.
            declared: dict[str, Any] = vars(type(self))["base_filters"]
            self.base_filters = {name: spec for name, spec in declared.items() if name in data}
        super().__init__(data, *args, **kwargs)
        self.now = now or timezone.now()

    @property
    def user(self) -> Any:
        return getattr(self.request, "user", None)

    # -- methods -------------------------------------------------------------------------------

    def filter_noop(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset

    def filter_target_name(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(target_name__icontains=anyascii(value))

    def filter_target_name_exact(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(target_name=anyascii(value))

    def filter_empty_target_name(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(target_name="")

    def filter_submitter(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(submitter=anyascii(value))

    def filter_exclude_calibrations(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if value:
            return queryset.filter(configuration_type__in=frames_settings().science_types)
        return queryset

    def filter_public_only(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        """``public_only=true``: frames whose public date has passed (NULL is never public)."""
        return queryset.filter(public_date__lt=self.now) if value else queryset

    def filter_public(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        """``public=false`` narrows to "my proposals" (members) or "not yet public" (others)."""
        if value:
            return queryset
        user = self.user
        authenticated = bool(getattr(user, "is_authenticated", False))
        if authenticated and not is_superuser(user):
            # (R) a member with no proposals gets nothing, like any other member would.
            return queryset.filter(proposal_id__in=sorted(proposals_for(user)))
        return queryset.filter(Q(public_date__gte=self.now) | Q(public_date__isnull=True))

    # -- sky -----------------------------------------------------------------------------------

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        regions = []
        for name in ("covers", "intersects"):
            text = data.get(name)
            if text:
                try:
                    regions.append(wkt_region(text, name))
                except SkyQueryError as exc:
                    # The upstream body for geometry errors is a bare JSON list.
                    raise ValidationError([str(exc)]) from exc
        cone = {name: data.get(name) for name in ("ra", "dec", "radius")}
        given = {name for name, value in cone.items() if value is not None}
        if given and given != set(cone):
            missing = sorted(set(cone) - given)
            raise ValidationError(
                {name: ["ra, dec and radius must be given together."] for name in missing}
            )
        if given:
            try:
                regions.append(cone_region(cone["ra"], cone["dec"], cone["radius"]))
            except SkyQueryError as exc:
                raise ValidationError({"radius": [str(exc)]}) from exc
        for region in regions:
            queryset = restrict_to_region(queryset, region)
        return queryset


class ThumbnailFilterSet(django_filters.FilterSet):
    """``/thumbnails/`` filters: the parent frame's basename and ids, and the size."""

    frame_basename = django_filters.CharFilter(field_name="frame__basename")
    proposal_id = django_filters.CharFilter(field_name="frame__proposal_id")
    observation_id = IntegerFilter(field_name="frame__observation_id")
    request_id = IntegerFilter(field_name="frame__request_id")
    size = django_filters.ChoiceFilter(
        choices=lambda: [(s, s) for s in frames_settings().thumbnail_sizes]
    )

    class Meta:
        model = Thumbnail
        fields: list[str] = []
