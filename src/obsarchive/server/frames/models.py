"""Models of the frames app: frames, their stored versions, headers, thumbnails and sky cells.

The schema follows the upstream OCS science archive (table names ``frames_frame``,
``frames_version``, ...) with these deliberate differences (docs/compatibility.md):

* text columns are wide enough for real data: version ids up to 1024 characters (moto and other
  S3 implementations use 36-character ids), ``site_id``/``telescope_id`` up to 64;
* every version and thumbnail keeps the object-store key it was stored under
  (``object_key``), so an old version stays downloadable when the metadata it was derived
  from changes later;
* the footprint is kept twice: ``area`` echoes the GeoJSON polygon the ingester sent, and
  ``footprint`` packs its vertices as unit vectors for the exact refine step of sky searches,
  which find their candidates through the HEALPix cells in :class:`SkyCell`;
* ``submitter`` copies the ``USERID`` header into an indexed column so the ``submitter``
  filter is an index lookup instead of a JSON scan.
"""

from __future__ import annotations

from django.db import models

__all__ = ["LEGACY_ALIASES", "SCALAR_FIELDS", "Frame", "Headers", "SkyCell", "Thumbnail", "Version"]

# Column widths. The upstream 32-character version key refuses real S3 version ids; S3 allows
# keys and version ids up to 1024 bytes.
KEY_LENGTH = 1024
EXTENSION_LENGTH = 64


class Frame(models.Model):
    """One data product (a file basename) and its searchable metadata."""

    basename = models.CharField(max_length=1000)
    area = models.JSONField(null=True, blank=True)
    footprint = models.BinaryField(null=True, blank=True, editable=False)
    related_frames = models.ManyToManyField("self", blank=True, symmetrical=True)
    observation_date = models.DateTimeField(null=True, blank=True)
    observation_day = models.DateField(null=True, blank=True, db_index=True)
    proposal_id = models.CharField(max_length=200, blank=True, default="")
    instrument_id = models.CharField(max_length=64, blank=True, default="")
    target_name = models.CharField(max_length=200, blank=True, default="")
    reduction_level = models.SmallIntegerField(default=0, db_index=True)
    site_id = models.CharField(max_length=64, blank=True, default="")
    telescope_id = models.CharField(max_length=64, blank=True, default="")
    exposure_time = models.FloatField(null=True, blank=True, db_index=True)
    primary_optical_element = models.CharField(max_length=100, blank=True, default="")
    public_date = models.DateTimeField(null=True, blank=True, db_index=True)
    configuration_type = models.CharField(max_length=64, blank=True, default="")
    observation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    request_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    submitter = models.CharField(max_length=200, blank=True, default="")
    modified = models.DateTimeField(auto_now=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-observation_date", "-id"]
        # Unique and plain indexes are declared here rather than with unique=/db_index= so that
        # PostgreSQL gets no extra varchar_pattern_ops "_like" index per text column: searches
        # use exact matches or case-insensitive substrings, which such an index cannot serve.
        constraints = [models.UniqueConstraint(fields=["basename"], name="frames_frame_basename")]
        indexes = [
            *[
                models.Index(fields=[name], name=f"frames_frame_{name[:16]}")
                for name in (
                    "proposal_id",
                    "instrument_id",
                    "target_name",
                    "site_id",
                    "telescope_id",
                    "primary_optical_element",
                    "configuration_type",
                    "submitter",
                )
            ],
            # The default listing order: an index scan answers "newest first" pages directly.
            models.Index(fields=["-observation_date", "-id"], name="frames_frame_obsdate_id"),
            # Time-window facet queries (aggregate) read only these columns.
            models.Index(
                fields=[
                    "observation_date",
                    "public_date",
                    "proposal_id",
                    "configuration_type",
                    "site_id",
                    "telescope_id",
                    "instrument_id",
                    "primary_optical_element",
                ],
                name="frames_frame_aggregate",
            ),
        ]

    def __str__(self) -> str:
        return self.basename


class Version(models.Model):
    """One stored version of a frame's file."""

    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="version_set")
    key = models.CharField(max_length=KEY_LENGTH)
    md5 = models.CharField(max_length=32)
    extension = models.CharField(max_length=EXTENSION_LENGTH)
    object_key = models.CharField(max_length=KEY_LENGTH, blank=True, default="")
    size = models.BigIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="frames_version_key"),
            models.UniqueConstraint(fields=["md5"], name="frames_version_md5"),
        ]
        indexes = [models.Index(fields=["frame", "-created", "-id"], name="frames_version_newest")]

    def __str__(self) -> str:
        return f"{self.frame_id}:{self.md5}"


class Headers(models.Model):
    """The complete header dictionary sent at the frame's last ingest."""

    frame = models.OneToOneField(Frame, on_delete=models.CASCADE, related_name="headers")
    data = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"headers of {self.frame_id}"


class Thumbnail(models.Model):
    """A preview image of a frame (upserted by its own basename)."""

    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="thumbnails")
    size = models.CharField(max_length=20)
    basename = models.CharField(max_length=1000)
    extension = models.CharField(max_length=EXTENSION_LENGTH)
    key = models.CharField(max_length=KEY_LENGTH, blank=True, default="")
    object_key = models.CharField(max_length=KEY_LENGTH, blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["basename"], name="frames_thumbnail_basename")
        ]

    def __str__(self) -> str:
        return self.basename


class SkyCell(models.Model):
    """One HEALPix cell (NUNIQ encoding) touched by a frame's footprint: the sky index."""

    frame = models.ForeignKey(Frame, on_delete=models.CASCADE, related_name="sky_cells")
    uniq = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["uniq", "frame"], name="frames_skycell_uniq")]
        constraints = [
            models.UniqueConstraint(fields=["frame", "uniq"], name="frames_skycell_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.frame_id}@{self.uniq}"


# The scalar metadata fields clients set through the ingest payload and updates.
SCALAR_FIELDS: tuple[str, ...] = (
    "reduction_level",
    "observation_day",
    "observation_date",
    "proposal_id",
    "instrument_id",
    "target_name",
    "site_id",
    "telescope_id",
    "exposure_time",
    "primary_optical_element",
    "public_date",
    "configuration_type",
    "observation_id",
    "request_id",
)

# Upper-case response/filter aliases kept from the FITS-named columns of archive 1.x.
LEGACY_ALIASES: dict[str, str] = {
    "DATE_OBS": "observation_date",
    "DAY_OBS": "observation_day",
    "PROPID": "proposal_id",
    "INSTRUME": "instrument_id",
    "OBJECT": "target_name",
    "RLEVEL": "reduction_level",
    "SITEID": "site_id",
    "TELID": "telescope_id",
    "EXPTIME": "exposure_time",
    "FILTER": "primary_optical_element",
    "L1PUBDAT": "public_date",
    "OBSTYPE": "configuration_type",
    "BLKUID": "observation_id",
    "REQNUM": "request_id",
}
