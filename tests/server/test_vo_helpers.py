"""Helpers for the VO tests: an archive of synthetic products, VOTable parsing, pyvo set-up.

Products are real FITS files (``obsarchive.products.synthetic.write_fits``, TAN WCS), read by
the product reader, stored in a filesystem store under the test's tmp folder and ingested
through the frames ingest service -- the path the ingester's ``POST /frames/`` takes.
This module holds no tests; test modules import what they use.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from astropy.io.votable import parse as parse_votable

from tests.conftest import IN_CI

PUBLIC = datetime(2016, 1, 1, tzinfo=UTC)
FUTURE = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3650)
DATE = datetime(2015, 2, 19, 13, 56, 5, tzinfo=UTC)
IVOID = "ivo://example.org/archive"
_BYTES_CACHE: dict[tuple[Any, ...], bytes] = {}
_RECORDS: dict[tuple[str, str], tuple[Any, str]] = {}


@dataclass
class Product:
    """A product as archived: its frame, publisher DID and bytes."""

    frame: Any
    did: str
    data: bytes
    extension: str
    record: Any
    thumbnails: list[Any] = field(default_factory=list)

    @property
    def md5(self) -> str:
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()

    @property
    def basename(self) -> str:
        return self.frame.basename


def fits_bytes(**kwargs: Any) -> bytes:
    """A synthetic product's bytes (cached: the writer is deterministic)."""
    from obsarchive.products.synthetic import write_catalogue, write_fits

    key = tuple(sorted((k, repr(v)) for k, v in kwargs.items()))
    if key in _BYTES_CACHE:
        return _BYTES_CACHE[key]
    buffer = io.BytesIO()
    if kwargs.pop("catalogue", False):
        write_catalogue(buffer, **kwargs)
    else:
        write_fits(buffer, **kwargs)
    data = buffer.getvalue()
    shape = kwargs.get("shape", (0, 0))
    if shape[0] * shape[1] <= 1_000_000:  # big products are written for one test only
        _BYTES_CACHE[key] = data
    return data


def tiny_jpeg(seed: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (8, 8), color=seed % 256).save(buffer, format="JPEG")
    return buffer.getvalue()


class VoArchive:
    """Synthetic products ingested into the test database and a tmp filesystem store."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = root
        self.base_url = base_url
        self.products: dict[str, Product] = {}

    @property
    def store(self) -> Any:
        from obsarchive.server.frames.storage import archive_store

        return archive_store()

    def add(
        self,
        basename: str,
        *,
        ra: float = 10.68,
        dec: float = 41.27,
        date: datetime = DATE,
        exptime: float = 90.0,
        filter: str = "V",
        rlevel: int = 0,
        compressed: bool = False,
        public: bool = True,
        proposal: str = "LCO2015A-001",
        instrument: str = "kb05",
        site: str = "coj",
        telescope: str = "1m0a",
        obstype: str = "EXPOSE",
        target: str = "M 31",
        shape: tuple[int, int] = (64, 64),
        related: dict[str, str] | None = None,
        catalogue: bool = False,
        thumbnails: tuple[str, ...] = (),
        seed: int = 0,
        pixel_scale: float | None = None,
        extra_headers: dict[str, Any] | None = None,
    ) -> Product:
        """Write, read, store and ingest one product."""
        from obsarchive.products import open_product
        from obsarchive.products.record import Version
        from obsarchive.server.frames.serializers import FrameIngestSerializer
        from obsarchive.server.frames.services import ingest_frame

        kwargs: dict[str, Any] = dict(
            basename=basename, site_id=site, telescope_id=telescope, instrument_id=instrument,
            obstype=obstype, proposal_id=proposal, date_obs=date, exptime=exptime,
            filter=filter, object_name=target, ra_deg=ra, dec_deg=dec, rlevel=rlevel,
            related=related, seed=seed, extra_headers=extra_headers,
        )  # fmt: skip
        if pixel_scale is not None:
            kwargs["pixel_scale_arcsec"] = pixel_scale
        if catalogue:
            kwargs.pop("extra_headers")
            kwargs["catalogue"] = True
            extension = ".fits.fz"
        else:
            kwargs.update(shape=shape, compressed=compressed)
            extension = ".fits.fz" if compressed else ".fits"
        data = fits_bytes(**kwargs)
        # Reading is deterministic: read each distinct product once per session.
        cache_key = (basename + extension, hashlib.md5(data, usedforsecurity=False).hexdigest())
        if cache_key not in _RECORDS:
            product = open_product(io.BytesIO(data), name=basename + extension)
            _RECORDS[cache_key] = (product.record(), product.storage_key)
        record, storage_key = _RECORDS[cache_key]
        record = replace(
            record,
            public_date=(PUBLIC if public else FUTURE).replace(tzinfo=None).isoformat(),
            proposal_id=proposal,
        )
        stored = self.store.put(storage_key, io.BytesIO(data))
        version = Version(key=stored.version_id, md5=stored.md5, extension=extension)
        payload = record.to_payload([version])
        payload["version_set"][0].update(object_key=stored.key, size=len(data))
        serializer = FrameIngestSerializer(data=payload)
        assert serializer.is_valid(), serializer.errors
        frame = ingest_frame(serializer.validated_data).frame
        result = Product(
            frame=frame, did=f"{IVOID}?{basename}", data=data, extension=extension,
            record=record,
        )  # fmt: skip
        for size in thumbnails:
            result.thumbnails.append(self._thumbnail(record, size))
        self.products[basename] = result
        return result

    def _thumbnail(self, record: Any, size: str) -> Any:
        from obsarchive.products.record import Version
        from obsarchive.server.frames.serializers import ThumbnailIngestSerializer
        from obsarchive.server.frames.services import ingest_thumbnail
        from obsarchive.server.frames.storage import thumbnail_object_key

        basename = f"{record.basename}-{size}"
        key = thumbnail_object_key(
            basename=basename, extension=".jpg", site_id=record.site_id,
            instrument_id=record.instrument_id, observation_day=record.observation_day,
        )  # fmt: skip
        data = tiny_jpeg(len(basename))
        stored = self.store.put(key, io.BytesIO(data))
        payload = replace(
            record, basename=basename, frame_basename=record.basename, size=size
        ).to_payload([Version(key=stored.version_id, md5=stored.md5, extension=".jpg")])
        payload["version_set"][0]["object_key"] = stored.key
        serializer = ThumbnailIngestSerializer(data=payload)
        assert serializer.is_valid(), serializer.errors
        return ingest_thumbnail(serializer.validated_data).thumbnail


def configure(settings: Any, root: Path, base_url: str, **vo: Any) -> None:
    """Point the archive at a tmp filesystem store and set the VO settings for a test."""
    from obsarchive.server.frames.storage import reset_store
    from obsarchive.server.vo.config import VoSettings

    store = dataclasses.replace(
        settings.ARCHIVE.store, filestore_type="local", root_dir=root, base_url=base_url
    )
    settings.ARCHIVE = dataclasses.replace(settings.ARCHIVE, store=store)
    settings.OBSARCHIVE_VO = VoSettings(ivoid=IVOID, **vo)
    reset_store()


@pytest.fixture
def vo_archive(db: Any, settings: Any, tmp_path: Path) -> Iterator[VoArchive]:
    """An empty archive for Django test-client requests (URLs on http://testserver/)."""
    from obsarchive.server.frames.storage import reset_store

    configure(settings, tmp_path / "store", "http://testserver/")
    yield VoArchive(tmp_path / "store", "http://testserver/")
    reset_store()


@pytest.fixture
def live_vo_archive(live_server: Any, settings: Any, tmp_path: Path) -> Iterator[VoArchive]:
    """An empty archive served by pytest-django's live server (a real HTTP server)."""
    from obsarchive.server.frames.storage import reset_store

    base = live_server.url + "/"
    configure(settings, tmp_path / "store", base)
    yield VoArchive(tmp_path / "store", base)
    reset_store()


def body(response: Any) -> bytes:
    """The body of a Django test response, streaming or not (read once, then remembered)."""
    if getattr(response, "streaming", False):
        if not hasattr(response, "_vo_body"):
            response._vo_body = b"".join(response.streaming_content)
        return response._vo_body
    return response.content


def votable(response: Any) -> Any:
    """Parse a response (or bytes) strictly: astropy raises on any VOTable warning."""
    data = response if isinstance(response, bytes) else body(response)
    return parse_votable(io.BytesIO(data), verify="exception")


def results(document: Any) -> Any:
    return next(r for r in document.resources if r.type == "results")


def query_status(document: Any) -> list[tuple[str, str]]:
    """``(value, text)`` of every QUERY_STATUS INFO of the results resource, in order."""
    resource = results(document)
    return [(i.value, i.content or "") for i in resource.infos if i.name == "QUERY_STATUS"]


def table_rows(document: Any) -> list[dict[str, Any]]:
    table = results(document).tables[0]
    names = [f.name for f in table.fields]
    rows = []
    for row in table.array:
        rows.append({name: _plain(row[name]) for name in names})
    return rows


def _plain(value: Any) -> Any:
    import numpy as np

    if value is np.ma.masked:
        return None
    if isinstance(value, np.ma.MaskedArray):
        return None if value.mask.all() else value.data.tolist()
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


# -- STILTS -----------------------------------------------------------------------------------


def stilts() -> str:
    """The ``stilts`` command, or skip (fail when CI=true: .ci/run installs Debian ``stilts``)."""
    command = shutil.which("stilts")
    if command is None:
        if IN_CI:
            pytest.fail("stilts is not installed (apt-get install stilts)")
        pytest.skip("stilts is not installed (apt-get install stilts)")
    return command


def run_stilts(*arguments: str) -> str:
    result = subprocess.run(
        [stilts(), *arguments], capture_output=True, text=True, timeout=300, check=False
    )
    return result.stdout + result.stderr


# -- pyvo offline: the DataLink vocabulary -----------------------------------------------------

DATALINK_VOCABULARY = "http://www.ivoa.net/rdf/datalink/core"
_TERMS: dict[str, list[str]] = {
    "this": [],
    "auxiliary": ["weight", "error", "noise"],
    "weight": [],
    "error": [],
    "noise": [],
    "calibration": ["bias", "dark", "flat"],
    "bias": [],
    "dark": [],
    "flat": [],
    "preview": ["preview-image", "preview-plot", "thumbnail"],
    "preview-image": [],
    "preview-plot": [],
    "thumbnail": [],
    "proc": ["cutout"],
    "cutout": [],
    "progenitor": [],
    "derivation": [],
    "coderived": [],
    "counterpart": [],
    "documentation": ["detached-header"],
    "detached-header": [],
    "package": [],
}


@pytest.fixture(scope="session")
def datalink_vocabulary(tmp_path_factory: Any) -> Iterator[None]:
    """Seed a private astropy cache with our own small copy of the DataLink vocabulary.

    pyvo's ``bysemantics()`` (and so ``getdataset()``) downloads it from ivoa.net; tests run
    offline. The terms listed are the ones the archive emits, with their narrower terms.
    """
    from astropy.config.paths import set_temp_cache
    from astropy.utils.data import import_file_to_cache

    cache = tmp_path_factory.mktemp("astropy-cache")
    terms = {
        name: {
            "label": name.replace("-", " ").title(),
            "description": f"DataLink core term {name} (test copy)",
            "wider": [w for w, n in _TERMS.items() if name in n],
            "narrower": narrower,
        }
        for name, narrower in _TERMS.items()
    }
    source = cache / "datalink-core.desise"
    source.write_text(json.dumps({"uri": DATALINK_VOCABULARY, "flavour": "RDF Class",
                                  "terms": terms}))  # fmt: skip
    with set_temp_cache(cache):
        import_file_to_cache(DATALINK_VOCABULARY, str(source))
        from pyvo.utils import vocabularies

        vocabularies.get_vocabulary.cache_clear()
        yield
        vocabularies.get_vocabulary.cache_clear()


# -- the standard test archive ----------------------------------------------------------------

RAW = "coj1m011-kb05-20150219-0125-e00"
REDUCED = "coj1m011-kb05-20150219-0125-e91"
CATALOGUE = "coj1m011-kb05-20150219-0125-e91_cat"
BIAS = "bias_kb05_20150219_bin1x1"
DARK = "dark_kb05_20150219_bin1x1"
FLAT = "flat_kb05_20150219_SKYFLAT_bin1x1_V"
ZERO = "ogg2m001-fs02-20150220-0001-e00"
POLE = "lsc1m005-fa15-20150221-0002-e00"
PROPRIETARY = "cpt1m010-fa14-20150222-0003-e91"
SPECTRUM = "coj2m002-en05-20150223-0004-e00"
UNFILTERED = "elp1m008-fa05-20150224-0005-e00"
MEMBER_PROPOSAL = "PROP-A"  # tests.server.conftest's world makes alice a member


def standard_archive(archive: VoArchive) -> dict[str, Product]:
    """A small archive covering the cases the VO tests need.

    An exposure at (10.68, 41.27) raw, reduced (fpacked, with its masters) and catalogued; a
    frame straddling RA 0; one at the north pole; a proprietary frame of PROP-A; a spectrum;
    and one with a filter missing from the filter table.
    """
    day = DATE
    archive.add(BIAS, rlevel=91, obstype="BIAS", exptime=0.0, date=day - timedelta(hours=3))
    archive.add(DARK, rlevel=91, obstype="DARK", exptime=300.0, date=day - timedelta(hours=2))
    archive.add(FLAT, rlevel=91, obstype="SKYFLAT", exptime=20.0, date=day - timedelta(hours=1))
    archive.add(RAW, thumbnails=("small", "large"))
    archive.add(
        REDUCED, rlevel=91, compressed=True, seed=1,
        extra_headers={"L1FWHM": 2.1, "PIXSCALE": 0.389},
    )  # fmt: skip
    archive.add(
        CATALOGUE, catalogue=True, rlevel=91, related={"L1IDCAT": REDUCED},
        date=day + timedelta(seconds=1),
    )  # fmt: skip
    archive.add(
        ZERO, ra=0.0, dec=0.0, filter="rp", exptime=30.0, instrument="fs02", site="ogg",
        telescope="2m0a", target="Zero", date=day + timedelta(days=1), seed=2,
    )  # fmt: skip
    archive.add(
        POLE, ra=30.0, dec=89.999, filter="ip", exptime=120.0, instrument="fa15", site="lsc",
        telescope="1m0a", target="Polaris field", date=day + timedelta(days=2), seed=3,
        extra_headers={"PIXSCALE": 0.389},
    )  # fmt: skip
    archive.add(
        PROPRIETARY, ra=150.0, dec=2.0, filter="gp", rlevel=91, public=False,
        proposal=MEMBER_PROPOSAL, instrument="fa14", site="cpt", target="Secret",
        date=day + timedelta(days=3), seed=4,
    )  # fmt: skip
    archive.add(
        SPECTRUM, ra=10.68, dec=41.27, instrument="en05", telescope="2m0a", filter="air",
        date=day + timedelta(days=4), seed=5,
    )  # fmt: skip
    archive.add(
        UNFILTERED, ra=200.0, dec=-30.0, filter="w", exptime=45.0, instrument="fa05",
        site="elp", target="Wide", date=day + timedelta(days=5), seed=6,
    )  # fmt: skip
    return archive.products
