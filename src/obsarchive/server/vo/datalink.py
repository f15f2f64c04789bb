"""DataLink 1.1 ``{links}``: what belongs to a frame, by semantics from the DataLink vocabulary.

For each ID (a publisher DID): ``#this`` (the file, signed and expiring), previews
(``#preview``, ``#preview-image``), the master calibrations the pipeline used (``#bias``,
``#dark``, ``#flat``, ``#calibration`` for masks and fringe frames -- from the frame's
``L1ID*`` headers, when those frames are archived and visible), the raw frame of a reduced
one (``#progenitor``) and back (``#derivation``), source catalogues (``#auxiliary``) and, for
images with a footprint, a SODA cutout service (``#cutout``). An unknown ID and an ID the
caller may not see give the same ``NotFoundFault`` row, so a proprietary frame's existence
does not leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet

from obsarchive import sky
from obsarchive.products.names import split_name
from obsarchive.server.frames.models import Frame, Headers, Version
from obsarchive.server.vo.obscore import (
    FrameFacts,
    calib_level,
    content_type,
    dataproduct_type,
    footprint_polygon,
    obs_id,
    publisher_did,
)
from obsarchive.server.vo.services import (
    RowBuilder,
    newest_versions,
    resolve_ids,
    thumbnails_by_frame,
)
from obsarchive.server.vo.votable import Field, Param, ServiceDescriptor, service_params

__all__ = ["LINK_FIELDS", "Link", "LinkSet", "build_links", "soda_input_params"]

LINK_FIELDS: tuple[Field, ...] = (
    Field("ID", "char", "*", ucd="meta.id;meta.main"),
    Field("access_url", "char", "*", ucd="meta.ref.url"),
    Field("service_def", "char", "*", ucd="meta.ref"),
    Field("error_message", "char", "*", ucd="meta.code.error"),
    Field("description", "char", "*", ucd="meta.note"),
    Field("semantics", "char", "*", ucd="meta.code"),
    Field("content_type", "char", "*", ucd="meta.code.mime"),
    Field("content_length", "long", unit="byte", ucd="phys.size;meta.file"),
)
SODA_STANDARD_ID = "ivo://ivoa.net/std/SODA#sync-1.0"
NOT_FOUND = "NotFoundFault: {id} is not known to this service"
# Header keys naming the calibrations a pipeline applied, and their DataLink semantics.
CALIBRATION_KEYS = (
    ("L1IDBIAS", "#bias", "Master bias used by the pipeline"),
    ("L1IDDARK", "#dark", "Master dark used by the pipeline"),
    ("L1IDFLAT", "#flat", "Master flat used by the pipeline"),
    ("L1IDMASK", "#calibration", "Bad-pixel mask used by the pipeline"),
    ("L1IDFRNG", "#calibration", "Fringe frame used by the pipeline"),
)
# Only terms of the DataLink core vocabulary that validators bundle (STILTS 3.4 knows this,
# progenitor, derivation, auxiliary, calibration, bias, dark, flat, preview, preview-image,
# preview-plot, proc and cutout; not the newer thumbnail, coderived or detached-header).
_THUMBNAIL_SEMANTICS = {"small": "#preview"}


@dataclass(frozen=True)
class Link:
    """One row of a links table; exactly one of the three targets is set."""

    id: str
    semantics: str
    access_url: str | None = None
    service_def: str | None = None
    error_message: str | None = None
    description: str | None = None
    content_type: str | None = None
    content_length: int | None = None

    def values(self) -> tuple[Any, ...]:
        return (
            self.id,
            self.access_url,
            self.service_def,
            self.error_message,
            self.description,
            self.semantics,
            self.content_type,
            self.content_length,
        )


@dataclass
class LinkSet:
    """The rows and the service descriptors of one links response."""

    links: list[Link]
    descriptors: list[ServiceDescriptor]
    overflow: bool


def _name(value: Any) -> str:
    """A header's frame reference as a basename (extension dropped, as related frames are)."""
    basename, _extension = split_name(str(value).strip())
    return basename or ""


def _facts(frame: Frame, version: Version | None) -> FrameFacts:
    return FrameFacts(
        basename=frame.basename,
        configuration_type=frame.configuration_type,
        instrument_id=frame.instrument_id,
        reduction_level=frame.reduction_level,
        extension=version.extension if version is not None else "",
    )


def _relation(
    this: FrameFacts, other: FrameFacts, calibrations: dict[str, tuple[str, str]]
) -> tuple[str, str]:
    """Semantics and description of the link from ``this`` to a related frame ``other``."""
    if other.basename in calibrations:
        return calibrations[other.basename]
    this_level, other_level = calib_level(this), calib_level(other)
    this_kind = dataproduct_type(this, ())
    other_kind = dataproduct_type(other, ())
    if obs_id(this.basename) == obs_id(other.basename) != this.basename:
        if this_level == 1:
            return "#derivation", "Product derived from this raw frame"
        if other_level == 1:
            return "#progenitor", "Raw frame this product was derived from"
        if other_kind == "measurements" and this_kind != "measurements":
            return "#auxiliary", "Source catalogue of this image"
        if this_kind == "measurements" and other_kind != "measurements":
            return "#progenitor", "Image this catalogue was extracted from"
        return "#auxiliary", "Another product of the same exposure"
    if obs_id(other.basename) == other.basename and other.basename != this.basename:
        # A product without an exposure suffix: a master calibration or a stack.
        return "#calibration", f"Calibration product ({other.configuration_type or 'unknown'})"
    if obs_id(this.basename) == this.basename:
        return "#progenitor", "Frame combined into this product"
    return "#auxiliary", "Related product"


def soda_input_params(id_param: Param, polygon: sky.Polygon | None = None) -> tuple[Param, ...]:
    """The SODA inputs: the dataset ID and the three spatial parameters (SODA 1.0 section 3)."""
    circle_max = polygon_max = None
    if polygon is not None:
        cap = polygon.bounding_circle
        circle_max = " ".join(repr(v) for v in sky.to_dali_circle(cap))
        polygon_max = " ".join(repr(v) for v in sky.to_dali_polygon(polygon))
    return (
        id_param,
        Param(
            "CIRCLE",
            "double",
            arraysize="3",
            unit="deg",
            ucd="pos.outline;obs",
            xtype="circle",
            description="Cutout region: ra dec radius (ICRS, degrees)",
            maximum=circle_max,
        ),
        Param(
            "POLYGON",
            "double",
            arraysize="*",
            unit="deg",
            ucd="pos.outline;obs",
            xtype="polygon",
            description="Cutout region: ra1 dec1 ra2 dec2 ra3 dec3 ...",
            maximum=polygon_max,
        ),
        Param(
            "POS",
            "char",
            ucd="pos.outline;obs",
            description="Cutout region: CIRCLE ra dec r, RANGE ra1 ra2 dec1 dec2 or POLYGON ...",
        ),
    )


def build_links(
    ids: Sequence[str],
    *,
    queryset: QuerySet[Frame],
    rows: RowBuilder,
    soda_url: str,
) -> LinkSet:
    """The links of ``ids`` (at most ``links_max_ids``, first ones first; no ID is split).

    Parameters
    ----------
    ids
        Publisher DIDs as requested (duplicates are answered once).
    queryset
        The caller's visible frames (:func:`~obsarchive.server.vo.services.vo_frames`).
    rows
        The response's row builder (URL maker, signatures, settings).
    soda_url
        Absolute URL of the SODA endpoint.
    """
    config = rows.config
    wanted = list(dict.fromkeys(ids))
    overflow = len(wanted) > config.links_max_ids
    wanted = wanted[: config.links_max_ids]
    found = resolve_ids(queryset, wanted, config)
    frame_ids = sorted({frame.pk for frame in found.values()})
    versions = newest_versions(frame_ids)
    thumbnails = thumbnails_by_frame(frame_ids)
    headers = dict(Headers.objects.filter(frame_id__in=frame_ids).values_list("frame_id", "data"))
    through = Frame.related_frames.through
    related_pairs = list(
        through.objects.filter(from_frame_id__in=frame_ids).values_list(
            "from_frame_id", "to_frame_id"
        )
    )
    related_frames = {
        frame.pk: frame for frame in queryset.filter(pk__in=sorted({to for _, to in related_pairs}))
    }
    related_versions = newest_versions(sorted(related_frames))
    related_by_frame: dict[int, list[Frame]] = {}
    for source, target in related_pairs:
        if target in related_frames:
            related_by_frame.setdefault(source, []).append(related_frames[target])

    links: list[Link] = []
    descriptors: list[ServiceDescriptor] = []
    for did in wanted:
        frame = found.get(did)
        version = None if frame is None else versions.get(frame.pk)
        if frame is None or version is None:
            links.append(Link(did, "#this", error_message=NOT_FOUND.format(id=did)))
            continue
        facts = _facts(frame, version)
        url = rows.make_url(version.object_key, version.key)
        if url:
            links.append(
                Link(
                    did,
                    "#this",
                    access_url=url,
                    description=f"The file {frame.basename}{version.extension}",
                    content_type=content_type(version.extension),
                    content_length=version.size,
                )
            )
        else:
            links.append(
                Link(did, "#this", error_message="DefaultFault: no download URL can be made")
            )
        for thumbnail in thumbnails.get(frame.pk, []):
            preview_url = rows.make_url(thumbnail.object_key, thumbnail.key)
            if not preview_url:
                continue
            links.append(
                Link(
                    did,
                    _THUMBNAIL_SEMANTICS.get(thumbnail.size, "#preview-image"),
                    access_url=preview_url,
                    description=f"Preview image ({thumbnail.size})",
                    content_type=content_type(thumbnail.extension),
                )
            )
        frame_headers = headers.get(frame.pk) or {}
        calibrations = {
            _name(frame_headers[key]): (semantics, description)
            for key, semantics, description in CALIBRATION_KEYS
            if frame_headers.get(key) not in (None, "", "N/A")
        }
        related = sorted(related_by_frame.get(frame.pk, []), key=lambda f: f.basename)
        for other in related:
            other_version = related_versions.get(other.pk)
            other_url = (
                None
                if other_version is None
                else rows.make_url(other_version.object_key, other_version.key)
            )
            if other_version is None or not other_url:
                continue
            semantics, description = _relation(facts, _facts(other, other_version), calibrations)
            links.append(
                Link(
                    did,
                    semantics,
                    access_url=other_url,
                    description=f"{description}: {other.basename}",
                    content_type=content_type(other_version.extension),
                    content_length=other_version.size,
                )
            )
        polygon = footprint_polygon(frame.area)
        if dataproduct_type(facts, config.spectrographs) == "image" and polygon is not None:
            descriptor_id = f"soda-{len(descriptors) + 1}"
            signature = rows.signature(frame)
            access = soda_url
            if signature is not None:
                access += "?" + urlencode({"EXPIRES": rows.expires, "SIGNATURE": signature})
            descriptors.append(
                ServiceDescriptor(
                    id=descriptor_id,
                    description=f"Cutouts of {frame.basename}",
                    params=service_params(access, SODA_STANDARD_ID, "application/fits"),
                    input_params=soda_input_params(
                        Param(
                            "ID",
                            value=publisher_did(config, frame.basename),
                            ucd="meta.ref.url;meta.curation",
                        ),
                        polygon,
                    ),
                )
            )
            links.append(
                Link(
                    did,
                    "#cutout",
                    service_def=descriptor_id,
                    description="Cut out a sky region (SODA sync)",
                    content_type="application/fits",
                )
            )
    return LinkSet(links=links, descriptors=descriptors, overflow=overflow)
