"""Validation of what clients write: the ingest payload, updates and thumbnail payloads.

Output shapes are built by :mod:`obsarchive.server.frames.representation`; these serializers
only check input and produce clean values, with the field-keyed error messages the upstream
archive (and so the OCS ingester's error reporting) uses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from obsarchive.server.frames.conf import configuration_types, frames_settings
from obsarchive.server.frames.models import KEY_LENGTH, Frame, Thumbnail, Version
from obsarchive.server.frames.sky import AreaError, parse_area

__all__ = [
    "FrameIngestSerializer",
    "FrameUpdateSerializer",
    "ThumbnailIngestSerializer",
    "ThumbnailUpdateSerializer",
    "VersionInputSerializer",
]

INT64_MAX = 2**63 - 1
SMALLINT = 2**15


class VersionInputSerializer(serializers.Serializer):
    """One ``version_set`` item: what the store returned for the uploaded file."""

    key = serializers.CharField(max_length=KEY_LENGTH)
    md5 = serializers.CharField(max_length=32)
    extension = serializers.CharField(max_length=64)
    # obsarchive extensions, both optional: the object size and the key the file was stored
    # under (when absent the server derives the OCS key from the frame's metadata).
    size = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=INT64_MAX
    )
    object_key = serializers.CharField(required=False, allow_blank=True, max_length=KEY_LENGTH)

    def validate_object_key(self, value: str) -> str:
        parts = value.split("/")
        escapes = value.startswith("/") or any(part in {"", ".", ".."} for part in parts)
        if value and escapes:
            raise serializers.ValidationError("Not a valid object key.")
        return value


def _check_json_text(value: Any, path: str = "") -> None:
    """Refuse strings no database can store: NUL characters and lone surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise serializers.ValidationError(
                f"Null characters are not allowed ({path or 'value'})."
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError(
                f"Surrogate characters are not allowed ({path or 'value'})."
            ) from None
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_json_text(key, path)
            _check_json_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_json_text(item, f"{path}[{index}]")


@extend_schema_field(OpenApiTypes.OBJECT)
class AreaField(serializers.Field):
    """A GeoJSON polygon (or null): the footprint, validated on the sphere."""

    default_error_messages = {"invalid": "Invalid polygon: {input}"}

    def to_internal_value(self, data: Any) -> Any:
        try:
            return parse_area(data)
        except AreaError:
            try:
                shown = json.dumps(data)
            except (TypeError, ValueError):
                shown = repr(data)
            self.fail("invalid", input=shown[:500])

    def to_representation(self, value: Any) -> Any:
        return value


class HeadersField(serializers.DictField):
    """The complete header dictionary, stored verbatim."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        _check_json_text(value)
        return value


def _scalar_fields() -> dict[str, serializers.Field]:
    return {
        "observation_date": serializers.DateTimeField(required=False, allow_null=True),
        "public_date": serializers.DateTimeField(required=False, allow_null=True),
        "reduction_level": serializers.IntegerField(
            required=False, min_value=-SMALLINT, max_value=SMALLINT - 1
        ),
        "proposal_id": serializers.CharField(required=False, allow_blank=True, max_length=200),
        "instrument_id": serializers.CharField(required=False, allow_blank=True, max_length=64),
        "target_name": serializers.CharField(required=False, allow_blank=True, max_length=200),
        "site_id": serializers.CharField(required=False, allow_blank=True, max_length=64),
        "telescope_id": serializers.CharField(required=False, allow_blank=True, max_length=64),
        "primary_optical_element": serializers.CharField(
            required=False, allow_blank=True, max_length=100
        ),
        "exposure_time": serializers.FloatField(required=False, allow_null=True),
        "observation_id": serializers.IntegerField(
            required=False, allow_null=True, min_value=0, max_value=INT64_MAX
        ),
        "request_id": serializers.IntegerField(
            required=False, allow_null=True, min_value=0, max_value=INT64_MAX
        ),
    }


class _FrameFieldsMixin(serializers.Serializer):
    """Fields shared by ingest and update; the choice list is read when a serializer is built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in _scalar_fields().items():
            self.fields[name] = field
        self.fields["configuration_type"] = serializers.ChoiceField(
            choices=list(configuration_types())
        )


def _basename_field() -> serializers.CharField:
    return serializers.CharField(max_length=1000)


def _validate_basename(value: str) -> str:
    if "/" in value or "\\" in value or value in {".", ".."}:
        raise serializers.ValidationError("A basename is a file name without directories.")
    return value


class FrameIngestSerializer(_FrameFieldsMixin):
    """The ``POST /frames/`` payload (reference §2.4.1)."""

    basename = _basename_field()
    area = AreaField(allow_null=True)
    version_set = serializers.ListField(child=VersionInputSerializer(), allow_empty=True)
    headers = HeadersField()
    related_frame_filenames = serializers.ListField(
        child=serializers.CharField(max_length=1000), allow_empty=True
    )
    observation_day = serializers.DateField(input_formats=["%Y-%m-%d", "%Y%m%d"])

    def validate_basename(self, value: str) -> str:
        return _validate_basename(value)

    def validate_related_frame_filenames(self, value: list[str]) -> list[str]:
        for name in value:
            _validate_basename(name)
        return value

    def validate_version_set(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each md5 and key must be new (one error dict per submitted item, as upstream)."""
        if not value:
            return value
        md5s = [item["md5"] for item in value]
        keys = [item["key"] for item in value]
        taken_md5 = set(Version.objects.filter(md5__in=md5s).values_list("md5", flat=True))
        taken_keys = set(Version.objects.filter(key__in=keys).values_list("key", flat=True))
        errors: list[dict[str, list[str]]] = []
        seen_md5: set[str] = set()
        seen_keys: set[str] = set()
        for item in value:
            item_errors: dict[str, list[str]] = {}
            if item["md5"] in taken_md5 or item["md5"] in seen_md5:
                item_errors["md5"] = ["version with this md5 already exists."]
            if item["key"] in taken_keys or item["key"] in seen_keys:
                item_errors["key"] = ["version with this key already exists."]
            seen_md5.add(item["md5"])
            seen_keys.add(item["key"])
            errors.append(item_errors)
        if any(errors):
            raise serializers.ValidationError(errors)
        return value


class ThumbnailIngestSerializer(FrameIngestSerializer):
    """The ``POST /thumbnails/`` payload: a frame payload plus the thumbnail's own fields.

    ``basename`` is the thumbnail's basename; ``frame_basename`` names the frame it shows; the
    first ``version_set`` item gives the thumbnail's version key and extension.
    """

    frame_basename = _basename_field()
    size = serializers.ChoiceField(choices=[])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["size"] = serializers.ChoiceField(
            choices=list(frames_settings().thumbnail_sizes)
        )

    def validate_frame_basename(self, value: str) -> str:
        return _validate_basename(value)

    def validate_version_set(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not value:
            raise serializers.ValidationError("A thumbnail needs one version (its stored file).")
        return super().validate_version_set(value)


# Keys accepted by PUT/PATCH on a frame; version_set and headers are refused by name.
UNSUPPORTED_UPDATE_FIELDS = ("version_set", "headers")


class FrameUpdateSerializer(_FrameFieldsMixin):
    """PUT/PATCH on ``/frames/{id}/``: scalar metadata, basename, area and new related names."""

    basename = _basename_field()
    area = AreaField(allow_null=True, required=False)
    related_frame_filenames = serializers.ListField(
        child=serializers.CharField(max_length=1000), allow_empty=True, required=False
    )
    observation_day = serializers.DateField(input_formats=["%Y-%m-%d", "%Y%m%d"])

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            refused = {
                name: [f"Updating {name} is not supported; POST /frames/ to ingest a new version."]
                for name in UNSUPPORTED_UPDATE_FIELDS
                if name in data
            }
            if refused:
                raise serializers.ValidationError(refused)
        return super().to_internal_value(data)

    def validate_basename(self, value: str) -> str:
        value = _validate_basename(value)
        instance = self.instance
        clash = Frame.objects.filter(basename=value)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            raise serializers.ValidationError("frame with this basename already exists.")
        return value

    def validate_related_frame_filenames(self, value: list[str]) -> list[str]:
        for name in value:
            _validate_basename(name)
        return value


class ThumbnailUpdateSerializer(serializers.Serializer):
    """PUT/PATCH on ``/thumbnails/{id}/``: the thumbnail's own fields."""

    size = serializers.ChoiceField(choices=[])
    basename = _basename_field()
    extension = serializers.CharField(max_length=64)
    key = serializers.CharField(max_length=KEY_LENGTH, allow_blank=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["size"] = serializers.ChoiceField(
            choices=list(frames_settings().thumbnail_sizes)
        )

    def validate_basename(self, value: str) -> str:
        value = _validate_basename(value)
        clash = Thumbnail.objects.filter(basename=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("thumbnail with this basename already exists.")
        return value
