"""A synthetic observatory archive: what ten years of an LCO-like network would have ingested.

:func:`generate_frames` yields :class:`FramePlan` objects in ingest order. Each plan is exactly
one ``POST /frames/`` payload (:meth:`FramePlan.payload`) plus the typed values the server
derives from it, so the seed benchmark can bulk-load the rows the real ingest would write and a
test can check that claim by ingesting the same payloads through the server's own code.

The mix follows the network: about two dozen cameras (1-m Sinistro imagers, 0.4-m SBIG then QHY
imagers, 2-m MuSCAT imagers and FLOYDS spectrographs) at six sites, each with a lifetime inside
the ten years; nights chosen per camera; afternoon calibrations (raw bias, dark and sky-flat
frames and their masters); science blocks (one request, one target, one to three filters,
raw ``e00`` + processed ``e91`` + ``_cat`` catalogue per exposure), standards, focus and trailed
frames; proposals per semester with a few large ones; targets over the whole sky with a few very
popular ones; OCS public-date rules; LCO-like headers of about 190 cards; object keys in the
OCS layout; a few reprocessed frames with a second version; related frames as the pipeline
names them (masters, bad-pixel masks, raw frames), so bad-pixel masks get very many links and
never-ingested names become placeholders.

Everything is deterministic for a given ``seed``, ``count`` and ``end`` date.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = [
    "CAMERAS",
    "Camera",
    "Footprint",
    "FramePlan",
    "VersionPlan",
    "generate_frames",
]

UTC = dt.UTC
YEARS = 10
#: Mean frames per active camera-night for a dense archive (calibrations + science).
FRAMES_PER_NIGHT = 95
CALIBRATION_FRAMES = 14


@dataclass(frozen=True)
class Camera:
    """One instrument on one telescope."""

    site_id: str
    telescope_id: str
    telescope_code: str  # the part of an LCO basename after the site, e.g. "1m010"
    enclosure: str
    instrument_id: str
    kind: str  # sinistro | sbig | qhy | muscat | floyds
    fov_deg: tuple[float, float]
    binning: int
    filters: tuple[str, ...]
    lifetime: tuple[float, float] = (0.0, 1.0)  # fraction of the ten years it was in service

    @property
    def is_spectrograph(self) -> bool:
        return self.kind == "floyds"


SITES: dict[str, tuple[float, float, float]] = {
    # site: longitude (deg E), latitude, height (m)
    "coj": (149.0708, -31.2731, 1116.0),
    "cpt": (20.8101, -32.3806, 1460.0),
    "elp": (-104.0154, 30.6801, 2070.0),
    "lsc": (-70.8049, -30.1673, 2198.0),
    "ogg": (-156.2569, 20.7069, 3055.0),
    "tfn": (-16.5117, 28.3003, 2330.0),
}

_SINISTRO = ("U", "B", "V", "R", "I", "up", "gp", "rp", "ip", "zs", "w")
_SMALL = ("B", "V", "up", "gp", "rp", "ip", "zs", "w")


def _cameras() -> tuple[Camera, ...]:
    one_metre = [
        ("cpt", "1m0a", "1m010", "doma", "fa14"),
        ("cpt", "1m0b", "1m012", "domb", "fa06"),
        ("cpt", "1m0c", "1m013", "domc", "fa16"),
        ("coj", "1m0a", "1m011", "doma", "fa12"),
        ("coj", "1m0b", "1m003", "domb", "fa19"),
        ("lsc", "1m0a", "1m005", "doma", "fa15"),
        ("lsc", "1m0b", "1m009", "domb", "fa04"),
        ("lsc", "1m0c", "1m004", "domc", "fa03"),
        ("elp", "1m0a", "1m008", "doma", "fa05"),
        ("elp", "1m0b", "1m006", "domb", "fa07"),
        ("tfn", "1m0a", "1m001", "doma", "fa20"),
        ("tfn", "1m0b", "1m002", "domb", "fa11"),
    ]
    cameras = [
        Camera(site, tel, code, enc, inst, "sinistro", (26.5 / 60, 26.5 / 60), 1, _SINISTRO)
        for site, tel, code, enc, inst in one_metre
    ]
    small = [
        ("ogg", "0m414", "kb27", "sq30"),
        ("coj", "0m405", "kb97", "sq31"),
        ("cpt", "0m407", "kb95", "sq32"),
        ("elp", "0m409", "kb80", "sq33"),
        ("lsc", "0m412", "kb26", "sq34"),
        ("tfn", "0m410", "kb29", "sq35"),
    ]
    for site, code, sbig, qhy in small:
        enc = "clma" if site == "ogg" else "aqwa"
        cameras.append(
            Camera(
                site, "0m4a", code, enc, sbig, "sbig", (29.2 / 60, 19.5 / 60), 2, _SMALL, (0.0, 0.6)
            )
        )
        cameras.append(
            Camera(
                site, "0m4a", code, enc, qhy, "qhy", (29.0 / 60, 19.0 / 60), 2, _SMALL, (0.6, 1.0)
            )
        )
    for site, code, muscat, floyds in (
        ("ogg", "2m001", "ep05", "en06"),
        ("coj", "2m002", "ep06", "en12"),
    ):
        cameras.append(
            Camera(
                site,
                "2m0a",
                code,
                "clma",
                muscat,
                "muscat",
                (9.1 / 60, 9.1 / 60),
                1,
                ("gp", "rp", "ip", "zs"),
                (0.5, 1.0),
            )
        )
        cameras.append(
            Camera(
                site,
                "2m0a",
                code,
                "clma",
                floyds,
                "floyds",
                (1.0 / 60, 1.0 / 60),
                1,
                ("slit_1.6as", "slit_2.0as"),
            )
        )
    return tuple(cameras)


CAMERAS: tuple[Camera, ...] = _cameras()

_TYPE_LETTER = {
    "EXPOSE": "e",
    "SPECTRUM": "e",
    "STANDARD": "s",
    "BIAS": "b",
    "DARK": "d",
    "SKYFLAT": "f",
    "LAMPFLAT": "w",
    "EXPERIMENTAL": "x",
    "TRAILED": "t",
    "CATALOG": "e",
}


# -- plans -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Footprint:
    """A footprint as the archive stores it: the GeoJSON, packed vertices and sky cells."""

    geojson: dict[str, Any]
    packed: bytes
    cells: tuple[int, ...]


@dataclass(frozen=True)
class VersionPlan:
    """One stored version: what the ingester's ``version_set`` item carries."""

    key: str
    md5: str
    extension: str
    size: int
    object_key: str
    created: dt.datetime


@dataclass
class FramePlan:
    """One ingested data product: its ``POST /frames/`` payload in typed form.

    ``fields`` holds the Frame column values the server derives from the payload (aware UTC
    datetimes, dates, ints), keyed by model attribute name.
    """

    basename: str
    fields: dict[str, Any]
    footprint: Footprint | None
    headers: dict[str, Any]
    versions: list[VersionPlan]
    related: list[str]
    ingested_at: dt.datetime

    @property
    def submitter(self) -> str:
        """The ``USERID`` header as the server indexes it."""
        value = self.headers.get("USERID")
        return "" if value is None else str(value)[:200]

    def payload(self) -> dict[str, Any]:
        """The JSON body the ingester would ``POST /frames/`` for this product."""
        values = self.fields
        body: dict[str, Any] = {
            "basename": self.basename,
            "area": None if self.footprint is None else self.footprint.geojson,
            "headers": self.headers,
            "related_frame_filenames": list(self.related),
            "version_set": [
                {
                    "key": v.key,
                    "md5": v.md5,
                    "extension": v.extension,
                    "object_key": v.object_key,
                    "size": v.size,
                }
                for v in self.versions
            ],
        }
        for name, value in values.items():
            if isinstance(value, dt.datetime):
                body[name] = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
            elif isinstance(value, dt.date):
                body[name] = value.strftime("%Y%m%d")
            else:
                body[name] = value
        return body


# -- sky -------------------------------------------------------------------------------------


def _box(ra: float, dec: float, width: float, height: float) -> dict[str, Any]:
    """The GeoJSON footprint of a ``width`` x ``height`` degree detector pointed at (ra, dec).

    Corners are deprojected from the tangent plane (a TAN WCS without distortion), as the
    ingester's WCS footprint would give them; RA increases to the east (left).
    """
    ra0, dec0 = math.radians(ra), math.radians(dec)
    corners = []
    for sx, sy in ((1, -1), (-1, -1), (-1, 1), (1, 1)):
        x = math.radians(sx * width / 2)
        y = math.radians(sy * height / 2)
        rho = math.hypot(x, y)
        c = math.atan(rho)
        lat = math.asin(math.cos(c) * math.sin(dec0) + y * math.sin(c) * math.cos(dec0) / rho)
        lon = ra0 + math.atan2(
            x * math.sin(c), rho * math.cos(dec0) * math.cos(c) - y * math.sin(dec0) * math.sin(c)
        )
        corners.append([round(math.degrees(lon) % 360.0, 9), round(math.degrees(lat), 9)])
    corners.append(list(corners[0]))
    return {"type": "Polygon", "coordinates": [corners]}


@lru_cache(maxsize=200_000)
def _footprint(ra: float, dec: float, width: float, height: float) -> Footprint:
    # The server's own functions: the stored packed vertices and cells are exactly the ingest's.
    from obsarchive.server.frames.sky import footprint_bytes, parse_area, sky_cells_of

    geojson = _box(ra, dec, width, height)
    parsed = parse_area(geojson)
    assert parsed is not None
    return Footprint(geojson, footprint_bytes(parsed), tuple(sky_cells_of(parsed)))


@dataclass(frozen=True)
class Target:
    name: str
    ra: float
    dec: float


_CATALOGUE_PREFIXES = ("NGC", "HD", "TIC", "WASP-", "GJ ", "HAT-P-", "UGC", "PKS", "Gaia", "SN")


def _target_name(rng: random.Random, index: int) -> str:
    prefix = _CATALOGUE_PREFIXES[index % len(_CATALOGUE_PREFIXES)]
    if prefix in ("SN", "Gaia"):
        year = 2016 + rng.randrange(10)
        letters = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3))
        return f"{prefix} {year}{letters}" if prefix == "SN" else f"Gaia{year % 100}{letters}"
    if prefix == "TIC":
        return f"TIC {rng.randrange(1_000_000, 400_000_000)}"
    if prefix.endswith(("-", " ")):
        return f"{prefix}{rng.randrange(1, 3000)}"
    return f"{prefix} {rng.randrange(1, 9999)}"


def _targets(rng: random.Random, count: int) -> list[Target]:
    targets = []
    for index in range(count):
        ra = rng.uniform(0.0, 360.0)
        # Uniform on the sphere, over what southern and northern sites reach (dec < +70).
        dec = math.degrees(math.asin(rng.uniform(-1.0, math.sin(math.radians(70.0)))))
        targets.append(Target(_target_name(rng, index), round(ra, 6), round(dec, 6)))
    return targets


STANDARD_FIELDS = (
    Target("S82_01", 23.0, -0.9),
    Target("SA 98", 103.2, -0.3),
    Target("SA 95", 58.4, 0.1),
    Target("PG 0918+029", 140.2, 2.7),
    Target("SA 110", 280.9, 0.2),
    Target("SA 113", 325.4, 0.5),
    Target("LTT 3218", 133.1, -32.9),
    Target("EG 274", 245.9, -39.2),
)


class _Popularity:
    """Draws indices 0..n-1 with Zipf-like weights (a few very popular), cheaply, in batches."""

    def __init__(self, generator: np.random.Generator, n: int, exponent: float = 1.05) -> None:
        weights = 1.0 / np.power(np.arange(n) + 5.0, exponent)
        self._cumulative = np.cumsum(weights / weights.sum())
        self._generator = generator
        self._batch: list[int] = []

    def draw(self) -> int:
        if not self._batch:
            uniform = self._generator.random(4096)
            found = np.searchsorted(self._cumulative, uniform, side="right")
            self._batch = np.minimum(found, len(self._cumulative) - 1).tolist()
        return self._batch.pop()


# -- proposals -------------------------------------------------------------------------------


def _semester(day: dt.date) -> str:
    """LCO semesters: A is February to July, B is August to January (named by its year)."""
    if 2 <= day.month <= 7:
        return f"{day.year}A"
    year = day.year if day.month >= 8 else day.year - 1
    return f"{year}B"


class _Proposals:
    """Per semester ~30 regular proposals, two key projects and one outreach proposal."""

    def __init__(self, generator: np.random.Generator, rng: random.Random) -> None:
        self._popularity = _Popularity(generator, 33, exponent=0.9)
        self._rng = rng
        self._users: dict[str, tuple[str, ...]] = {}

    def choose(self, day: dt.date) -> str:
        semester = _semester(day)
        index = self._popularity.draw()
        if index == 0:
            year = int(semester[:4])
            return f"KEY{year - (year % 3)}AB-001"  # three-year key project
        if index == 1:
            return f"KEY{int(semester[:4]) - (int(semester[:4]) + 1) % 3}AB-002"
        if index == 2:
            return f"LCOEPO{semester}-001"
        return f"LCO{semester}-{index - 2:03d}"

    def user(self, proposal: str) -> str:
        users = self._users.get(proposal)
        if users is None:
            stem = hashlib.blake2b(proposal.encode(), digest_size=4).hexdigest()
            users = tuple(f"observer_{stem}_{n}" for n in range(1 + self._rng.randrange(4)))
            self._users[proposal] = users
        return users[self._rng.randrange(len(users))]


# -- headers ---------------------------------------------------------------------------------

_ENGINEERING_KEYS = (
    "AGCAM",
    "AGFILTER",
    "AGFILTID",
    "AGFOCOFF",
    "AGFOCST",
    "AGFOCUS",
    "AGGMAG",
    "AGLCKFRC",
    "AGMIRDEC",
    "AGMIRPOS",
    "AGMIRST",
    "AGMODE",
    "AGNSRC",
    "AGRMS",
    "AGSTATE",
    "ALTITUDE",
    "AZIMUTH",
    "CCDATEMP",
    "CCDSESIG",
    "CCDSTEMP",
    "DOMEHUM",
    "DOMETEMP",
    "DOMSHUT",
    "ENC1STAT",
    "ENC2STAT",
    "ENCAZ",
    "ENCWLIGT",
    "FOCDMD",
    "FOCFLOFF",
    "FOCINOFF",
    "FOCOBOFF",
    "FOCPOSN",
    "FOCTELZP",
    "FOCTEMP",
    "FOCTOFF",
    "FOCTZPST",
    "FOLDPORT",
    "FOLDPOS",
    "FOLDSTAT",
    "HAENC",
    "ICSCOMAX",
    "ICSCOMAY",
    "LSTATUS",
    "M1COVER",
    "M1HRTMN",
    "M1TEMP",
    "M2PITCH",
    "M2ROLL",
    "MOONALT",
    "MOONDIST",
    "MOONFRAC",
    "MOONSTAT",
    "PIXSCALE",
    "PMFOCUS",
    "PMIRCHI",
    "ROLLERDR",
    "ROLLERND",
    "ROTANGLE",
    "ROTDMD",
    "ROTMODE",
    "ROTSKYPA",
    "ROTSTAT",
    "ROTTYPE",
    "SKYMAG",
    "SUNALT",
    "SUNDIST",
    "TELMODE",
    "TELSTATE",
    "TUBETEMP",
    "WINDDIR",
    "WINDSPEE",
    "WMSCLOUD",
    "WMSDEWPT",
    "WMSHUMID",
    "WMSMOIST",
    "WMSPRES",
    "WMSRAIN",
    "WMSSKYBR",
    "WMSSTATE",
    "WMSTEMP",
)
_AMPLIFIER_KEYS = ("BIASSEC", "DATASEC", "DETSEC", "GAIN", "RDNOISE", "SATURAT", "OVERSCN")


@lru_cache(maxsize=64)
def _static_headers(camera: Camera) -> dict[str, Any]:
    """The cards that do not change from frame to frame on one camera."""
    lon, lat, height = SITES[camera.site_id]
    side = 4096 // camera.binning if camera.kind == "sinistro" else 3000 // camera.binning
    headers: dict[str, Any] = {
        "SIMPLE": True,
        "BITPIX": 16,
        "NAXIS": 2,
        "NAXIS1": side,
        "NAXIS2": side,
        "EXTEND": True,
        "ORIGIN": "LCOGT",
        "SITEID": camera.site_id,
        "SITE": f"LCOGT node at {camera.site_id}",
        "ENCID": camera.enclosure,
        "ENCLOSUR": f"{camera.enclosure}-{camera.site_id}",
        "TELID": camera.telescope_id,
        "TELESCOP": f"{camera.telescope_id}-{camera.telescope_code[-2:]}",
        "LATITUDE": lat,
        "LONGITUD": lon,
        "HEIGHT": height,
        "OBSGEO-X": round(6371000 * math.cos(math.radians(lat)) * math.cos(math.radians(lon)), 3),
        "OBSGEO-Y": round(6371000 * math.cos(math.radians(lat)) * math.sin(math.radians(lon)), 3),
        "OBSGEO-Z": round(6371000 * math.sin(math.radians(lat)), 3),
        "INSTRUME": camera.instrument_id,
        "CONFMODE": "full_frame",
        "CONFNAME": "N/A",
        "DETECTOR": f"{camera.kind.upper()} detector",
        "DETECTID": f"{camera.instrument_id}-det",
        "CCDSUM": f"{camera.binning} {camera.binning}",
        "CCDXPIXE": 1.5e-05,
        "CCDYPIXE": 1.5e-05,
        "PIXSCALE": round(camera.fov_deg[0] * 3600 / side, 4),
        "DARKCURR": 0.0,
        "MAXLIN": 0.0,
        "RDSPEED": 1600.0,
        "RADESYS": "ICRS",
        "EQUINOX": 2000.0,
        "TIMESYS": "UTC",
        "DATADICV": "LCOGT-DIC.FITS-0.11.0",
        "HDRVER": "LCOGT-HDR-1.4.0",
        "BLKTYPE": "NORMAL",
        "BLKSDATE": None,
        "BLKEDATE": None,
        "BLKAIRMX": 1.6,
        "BLKMNPH": 1.0,
        "BLKMNDST": 30.0,
        "BLKSEECO": "N/A",
        "BLKTRNCO": "N/A",
        "CTYPE1": "RA---TAN",
        "CTYPE2": "DEC--TAN",
        "CUNIT1": "deg",
        "CUNIT2": "deg",
        "WCSAXES": 2,
        "WCSERR": 0,
    }
    for amp in range(1, 5):
        for key in _AMPLIFIER_KEYS:
            headers[f"{key}{amp}"] = f"[{amp}:{side // 2},{amp}:{side // 2}]"
    for key in _ENGINEERING_KEYS:
        headers[key] = 0.0
    return headers


_MJD_ZERO = dt.datetime(1858, 11, 17, tzinfo=UTC)


def _fits_time(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds")


def _sexagesimal(value: float, hours: bool) -> str:
    sign = "-" if value < 0 else ("" if hours else "+")
    value = abs(value) / 15.0 if hours else abs(value)
    whole = int(value)
    minutes_total = (value - whole) * 60.0
    minutes = int(minutes_total)
    seconds = (minutes_total - minutes) * 60.0
    return f"{sign}{whole:02d}:{minutes:02d}:{seconds:06.3f}"


# -- the generator ---------------------------------------------------------------------------


@dataclass
class _Exposure:
    """What one shutter opening was: the values shared by its raw and processed products."""

    camera: Camera
    day: dt.date
    number: int
    obstype: str
    start: dt.datetime
    exptime: float
    filter: str
    proposal: str
    target: Target | None
    target_name: str
    observation_id: int
    request_id: int | None
    user: str | None
    cards: dict[str, Any] | None = None
    public_date: dt.datetime | None = None


@dataclass
class _State:
    """Counters and memory carried from night to night."""

    request_id: int = 1_000_000
    observation_id: int = 50_000_000
    last_flat: dict[tuple[str, str], str] = field(default_factory=dict)


class _Generator:
    def __init__(self, count: int, seed: int, end: dt.date) -> None:
        self.count = count
        self.rng = random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.end = end
        self.start = end - dt.timedelta(days=round(365.25 * YEARS))
        self.state = _State()
        pool = int(min(20_000, max(40, count // 50)))
        self.targets = _targets(self.rng, pool)
        self.popularity = _Popularity(self.np, pool)
        self.proposals = _Proposals(self.np, self.rng)
        from obsarchive.config import PublicDatePolicy

        self.policy = PublicDatePolicy()

    # -- the plan of nights ------------------------------------------------------------------

    def camera_nights(self) -> list[tuple[dt.date, Camera, int]]:
        """(night, camera, frame quota) in chronological order, quotas summing to ``count``."""
        days = (self.end - self.start).days
        grid: list[tuple[int, int]] = []
        weights: list[float] = []
        for offset in range(days):
            fraction = offset / days
            for index, camera in enumerate(CAMERAS):
                low, high = camera.lifetime
                if low <= fraction < high:
                    grid.append((offset, index))
                    # The network (and its data rate) grew over the decade.
                    weights.append(1.0 + 0.6 * fraction)
        wanted = math.ceil(self.count / FRAMES_PER_NIGHT)
        nights = min(len(grid), max(wanted, min(self.count // 30, len(grid)), 1))
        p = np.asarray(weights) / sum(weights)
        chosen = np.sort(self.np.choice(len(grid), size=nights, replace=False, p=p))
        quotas = self.np.multinomial(self.count, np.full(nights, 1.0 / nights))
        plan = []
        for position, quota in zip(chosen.tolist(), quotas.tolist(), strict=True):
            if quota:
                offset, index = grid[position]
                plan.append((self.start + dt.timedelta(days=offset), CAMERAS[index], quota))
        return plan

    # -- one night ---------------------------------------------------------------------------

    def night(self, day: dt.date, camera: Camera, quota: int) -> Iterator[FramePlan]:
        lon = SITES[camera.site_id][0]
        # Local 18:30 on the night's date, in UTC.
        dusk = dt.datetime(day.year, day.month, day.day, 18, 30, tzinfo=UTC) - dt.timedelta(
            hours=lon / 15.0
        )
        counter = [0]
        emitted = 0
        with_calibrations = quota >= 2 * CALIBRATION_FRAMES or self.rng.random() < 0.15
        if with_calibrations and not camera.is_spectrograph:
            for plan in self.calibrations(day, camera, dusk, counter):
                yield plan
                emitted += 1
                if emitted >= quota:
                    return
        moment = dusk + dt.timedelta(minutes=45 + self.rng.uniform(0, 30))
        while emitted < quota:
            kind = self.rng.random()
            if camera.is_spectrograph:
                block = self.spectrum_block(day, camera, moment, counter)
            elif kind < 0.07:
                block = self.science_block(day, camera, moment, counter, standard=True)
            elif kind < 0.10:
                block = self.engineering_frames(day, camera, moment, counter)
            else:
                block = self.science_block(day, camera, moment, counter)
            for plan in block:
                yield plan
                emitted += 1
                moment = max(moment, plan.fields["observation_date"])
                if emitted >= quota:
                    return
            moment += dt.timedelta(minutes=self.rng.uniform(2, 8))

    def _next_number(self, counter: list[int]) -> int:
        counter[0] += 1
        return counter[0]

    def _exposure(
        self,
        camera: Camera,
        day: dt.date,
        counter: list[int],
        obstype: str,
        start: dt.datetime,
        exptime: float,
        filter: str,
        proposal: str,
        target: Target | None,
        target_name: str,
        request_id: int | None,
        user: str | None,
    ) -> _Exposure:
        # Milliseconds, as DATE-OBS has them.
        start = start.replace(microsecond=start.microsecond // 1000 * 1000)
        return _Exposure(
            camera,
            day,
            self._next_number(counter),
            obstype,
            start,
            exptime,
            filter,
            proposal,
            target,
            target_name,
            self.state.observation_id,
            request_id,
            user,
        )

    def calibrations(
        self, day: dt.date, camera: Camera, dusk: dt.datetime, counter: list[int]
    ) -> Iterator[FramePlan]:
        state = self.state
        state.observation_id += 1
        day_text = day.strftime("%Y%m%d")
        binning = f"bin{camera.binning}x{camera.binning}"
        moment = dusk - dt.timedelta(hours=3)
        raws: dict[str, list[str]] = {"BIAS": [], "DARK": [], "SKYFLAT": []}
        flat_filter = self.rng.choice(camera.filters)
        sequence = [("BIAS", 0.0, "")] * 5 + [("DARK", 300.0, "")] * 3
        sequence += [("SKYFLAT", round(self.rng.uniform(1, 30), 3), flat_filter)] * 3
        for obstype, exptime, filter in sequence:
            if obstype == "SKYFLAT" and moment < dusk:
                moment = dusk
            exposure = self._exposure(
                camera,
                day,
                counter,
                obstype,
                moment,
                exptime,
                filter or camera.filters[0],
                "calibrate",
                None,
                "Flat" if obstype == "SKYFLAT" else "",
                None,
                None,
            )
            plan = self.product(exposure, rlevel=0)
            raws[obstype].append(plan.basename)
            yield plan
            moment += dt.timedelta(seconds=exptime + 20 + self.rng.uniform(0, 5))
        bpm = f"bpm-{camera.instrument_id}_{binning}"
        bias = f"bias_{camera.instrument_id}_{day_text}_{binning}"
        dark = f"dark_{camera.instrument_id}_{day_text}_{binning}"
        flat = f"flat_{camera.instrument_id}_{day_text}_SKYFLAT_{binning}_{flat_filter}"
        masters = [
            (bias, "BIAS", "Output from MAKEBIAS", [bpm, raws["BIAS"][0]]),
            (dark, "DARK", "Output from MAKECAL", [bias, bpm, raws["DARK"][0]]),
            (flat, "SKYFLAT", "Flat field", [bias, dark, bpm, raws["SKYFLAT"][0]]),
        ]
        for name, obstype, object_name, related in masters:
            exposure = self._exposure(
                camera,
                day,
                counter,
                obstype,
                moment,
                0.0 if obstype == "BIAS" else 300.0,
                flat_filter if obstype == "SKYFLAT" else camera.filters[0],
                "calibrate",
                None,
                object_name,
                None,
                None,
            )
            counter[0] -= 1  # masters have no frame number of their own
            yield self.product(exposure, rlevel=91, basename=name, related=related)
        state.last_flat[(camera.instrument_id, flat_filter)] = flat

    def _calibration_links(self, camera: Camera, day: dt.date, filter: str) -> list[str]:
        day_text = day.strftime("%Y%m%d")
        binning = f"bin{camera.binning}x{camera.binning}"
        flat = self.state.last_flat.get((camera.instrument_id, filter))
        if flat is None:
            # A flat from a night this archive never received: the link makes a placeholder.
            previous = (day - dt.timedelta(days=1)).strftime("%Y%m%d")
            flat = f"flat_{camera.instrument_id}_{previous}_SKYFLAT_{binning}_{filter}"
        return [
            f"bias_{camera.instrument_id}_{day_text}_{binning}",
            f"dark_{camera.instrument_id}_{day_text}_{binning}",
            flat,
            f"bpm-{camera.instrument_id}_{binning}",
        ]

    def science_block(
        self,
        day: dt.date,
        camera: Camera,
        moment: dt.datetime,
        counter: list[int],
        *,
        standard: bool = False,
    ) -> Iterator[FramePlan]:
        state = self.state
        state.observation_id += 1
        state.request_id += 1 + self.rng.randrange(30)  # other telescopes' requests in between
        if standard:
            target = STANDARD_FIELDS[self.rng.randrange(len(STANDARD_FIELDS))]
            proposal, obstype, user = "standard", "STANDARD", None
        else:
            target = self.targets[self.popularity.draw()]
            proposal = self.proposals.choose(day)
            obstype, user = "EXPOSE", self.proposals.user(proposal)
        wanted = 1 + int(self.rng.random() * 2.2)
        filters = self.rng.sample(camera.filters, k=min(len(camera.filters), wanted))
        exptime = self.rng.choice((2.0, 5.0, 10.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0))
        repeats = 1 + int(self.rng.random() * 4)
        for filter in filters:
            for _ in range(repeats):
                exposure = self._exposure(
                    camera,
                    day,
                    counter,
                    obstype,
                    moment,
                    exptime,
                    filter,
                    proposal,
                    target,
                    target.name,
                    state.request_id,
                    user,
                )
                raw = self.product(exposure, rlevel=0)
                yield raw
                links = self._calibration_links(camera, day, filter)
                processed = self.product(exposure, rlevel=91, related=[*links, raw.basename])
                yield processed
                yield self.product(
                    exposure,
                    rlevel=91,
                    basename=processed.basename + "_cat",
                    related=[*links, processed.basename, raw.basename],
                    catalogue=True,
                )
                moment += dt.timedelta(seconds=exptime + 25 + self.rng.uniform(0, 10))

    def engineering_frames(
        self, day: dt.date, camera: Camera, moment: dt.datetime, counter: list[int]
    ) -> Iterator[FramePlan]:
        """Focus (EXPERIMENTAL ``x00``) or trailed (``t00``) frames: private by file type."""
        self.state.observation_id += 1
        trailed = self.rng.random() < 0.3
        target = self.targets[self.popularity.draw()]
        for _ in range(1 + self.rng.randrange(3)):
            exposure = self._exposure(
                camera,
                day,
                counter,
                "TRAILED" if trailed else "EXPERIMENTAL",
                moment,
                10.0,
                camera.filters[0],
                "LCOEngineering" if trailed else "auto_focus",
                target,
                target.name if trailed else "auto_focus",
                None,
                None,
            )
            yield self.product(exposure, rlevel=0)
            moment += dt.timedelta(seconds=40)

    def spectrum_block(
        self, day: dt.date, camera: Camera, moment: dt.datetime, counter: list[int]
    ) -> Iterator[FramePlan]:
        """FLOYDS: a lamp flat, the spectrum, and the processed ``.tar.gz`` package."""
        state = self.state
        state.observation_id += 1
        state.request_id += 1 + self.rng.randrange(30)
        target = self.targets[self.popularity.draw()]
        proposal = self.proposals.choose(day)
        user = self.proposals.user(proposal)
        slit = self.rng.choice(camera.filters)
        flat = self._exposure(
            camera,
            day,
            counter,
            "LAMPFLAT",
            moment,
            20.0,
            slit,
            proposal,
            target,
            target.name,
            state.request_id,
            user,
        )
        flat_plan = self.product(flat, rlevel=0, with_area=False)
        yield flat_plan
        moment += dt.timedelta(seconds=60)
        exptime = self.rng.choice((300.0, 600.0, 900.0, 1200.0))
        spectrum = self._exposure(
            camera,
            day,
            counter,
            "SPECTRUM",
            moment,
            exptime,
            slit,
            proposal,
            target,
            target.name,
            state.request_id,
            user,
        )
        raw = self.product(spectrum, rlevel=0)
        yield raw
        yield self.product(
            spectrum, rlevel=91, related=[raw.basename, flat_plan.basename], extension=".tar.gz"
        )

    # -- one product -------------------------------------------------------------------------

    def product(
        self,
        exposure: _Exposure,
        *,
        rlevel: int,
        basename: str | None = None,
        related: list[str] | None = None,
        catalogue: bool = False,
        with_area: bool = True,
        extension: str = ".fits.fz",
    ) -> FramePlan:
        camera = exposure.camera
        shared = self._exposure_cards(exposure)
        letter = _TYPE_LETTER[exposure.obstype]
        name = basename or (
            f"{camera.site_id}{camera.telescope_code}-{camera.instrument_id}-"
            f"{shared['DAY-OBS']}-{exposure.number:04d}-{letter}{rlevel:02d}"
        )
        obstype = "CATALOG" if catalogue else exposure.obstype
        start = exposure.start
        headers = dict(_static_headers(camera))
        engineering = (self.np.random(len(_ENGINEERING_KEYS)) * 100.0).round(3).tolist()
        headers.update(zip(_ENGINEERING_KEYS, engineering, strict=True))
        headers.update(shared)
        headers["RLEVEL"] = rlevel
        target = exposure.target
        if target is not None:
            headers["AIRMASS"] = round(1.0 + self.rng.random(), 4)
        # The public date is decided on the raw product's headers by the OCS rules; the
        # pipeline copies it into processed products as L1PUBDAT.
        public = exposure.public_date
        assert public is not None
        if rlevel:
            headers["L1PUBDAT"] = public.replace(tzinfo=None).isoformat()
        related_names = related if related is not None else [name]
        for key, value in zip(
            ("L1IDBIAS", "L1IDDARK", "L1IDFLAT", "L1IDMASK"), related_names, strict=False
        ):
            headers[key] = value if rlevel else None
        footprint = None
        if with_area and target is not None and not catalogue:
            width, height = camera.fov_deg
            footprint = _footprint(target.ra, target.dec, width, height)
        ingested = start + dt.timedelta(
            seconds=exposure.exptime + self.rng.uniform(30, 120) + (600 if rlevel else 0)
        )
        fields: dict[str, Any] = {
            "reduction_level": rlevel,
            "observation_day": exposure.day,
            "observation_date": start,
            "proposal_id": exposure.proposal,
            "instrument_id": camera.instrument_id,
            "target_name": exposure.target_name,
            "site_id": camera.site_id,
            "telescope_id": camera.telescope_id,
            "exposure_time": exposure.exptime,
            "primary_optical_element": exposure.filter,
            "public_date": public,
            "configuration_type": obstype,
            "observation_id": exposure.observation_id,
            "request_id": exposure.request_id,
        }
        versions = [self._version(name, extension, camera, fields, headers, ingested, 0)]
        if rlevel and self.rng.random() < 0.03:
            # Reprocessed later: a second, newer version of the same product.
            later = ingested + dt.timedelta(days=self.rng.uniform(5, 200))
            versions.append(self._version(name, extension, camera, fields, headers, later, 1))
        return FramePlan(
            basename=name,
            fields=fields,
            footprint=footprint,
            headers=headers,
            versions=versions,
            related=related_names,
            ingested_at=ingested,
        )

    def _exposure_cards(self, exposure: _Exposure) -> dict[str, Any]:
        """The header cards every product of one exposure shares (computed once)."""
        if exposure.cards is not None:
            return exposure.cards
        start = exposure.start
        day_text = exposure.day.strftime("%Y%m%d")
        cards: dict[str, Any] = {
            "OBSTYPE": exposure.obstype,
            "EXPTIME": exposure.exptime,
            "REQTIME": exposure.exptime,
            "FILTER": exposure.filter,
            "FILTER1": exposure.filter,
            "FILTER2": "air",
            "FILTER3": "air",
            "DATE-OBS": _fits_time(start),
            "DAY-OBS": day_text,
            "UTSTART": start.strftime("%H:%M:%S.%f")[:12],
            "UTSTOP": (start + dt.timedelta(seconds=exposure.exptime)).strftime("%H:%M:%S.%f")[:12],
            "MJD-OBS": round((start - _MJD_ZERO).total_seconds() / 86400, 8),
            "PROPID": exposure.proposal,
            "OBJECT": exposure.target_name or "N/A",
            "BLKUID": exposure.observation_id,
            "REQNUM": exposure.request_id,
            "MOLUID": exposure.observation_id * 3 + 1,
            "TRACKNUM": None if exposure.request_id is None else exposure.request_id // 3,
            "FRMTOTAL": 1,
            "EXTNAME": "SCI",
        }
        if exposure.user is not None:
            cards["USERID"] = exposure.user
        target = exposure.target
        if target is not None:
            ra, dec = _sexagesimal(target.ra, hours=True), _sexagesimal(target.dec, hours=False)
            cards.update(
                {
                    "RA": ra,
                    "DEC": dec,
                    "CAT-RA": ra,
                    "CAT-DEC": dec,
                    "CRVAL1": target.ra,
                    "CRVAL2": target.dec,
                }
            )
        exposure.cards = cards
        letter = _TYPE_LETTER[exposure.obstype]
        camera = exposure.camera
        raw_name = (
            f"{camera.site_id}{camera.telescope_code}-{camera.instrument_id}-{day_text}-"
            f"{exposure.number:04d}-{letter}00"
        )
        exposure.public_date = self._public_date(exposure, raw_name)
        return cards

    def _public_date(self, exposure: _Exposure, raw_name: str) -> dt.datetime:
        from obsarchive.products.public_date import public_date

        text = public_date(
            self.policy,
            {
                "DATE-OBS": _fits_time(exposure.start),
                "PROPID": exposure.proposal,
                "OBSTYPE": exposure.obstype,
            },
            raw_name,
        )
        assert text is not None
        return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)

    def _version(
        self,
        name: str,
        extension: str,
        camera: Camera,
        fields: dict[str, Any],
        headers: dict[str, Any],
        created: dt.datetime,
        number: int,
    ) -> VersionPlan:
        # S3 version ids are 32 URL-safe characters.
        key = base64.b64encode(self.rng.getrandbits(192).to_bytes(24, "big"), b"._").decode()
        md5 = hashlib.md5(f"{name}:{number}".encode(), usedforsecurity=False).hexdigest()
        base_size = {"sinistro": 30e6, "sbig": 4e6, "qhy": 12e6, "muscat": 9e6, "floyds": 3e6}
        size = int(base_size[camera.kind] * (0.5 + self.rng.random()))
        if name.endswith("_cat"):
            size //= 10
        object_key = _object_key(
            name,
            extension,
            camera.site_id,
            camera.instrument_id,
            fields["observation_day"],
            fields["reduction_level"],
            fields["configuration_type"],
        )
        return VersionPlan(key, md5, extension, size, object_key, created)


@lru_cache(maxsize=4096)
def _key_template(
    site_id: str,
    instrument_id: str,
    day: dt.date,
    reduction_level: int,
    configuration_type: str,
    extension: str,
    name_class: str,
) -> str:
    """The server's object key for a stand-in name of the same class, with ``{}`` for it.

    ``frame_object_key`` looks at the basename only for ``bpm`` and its last two characters,
    and validates it character by character; calling it once per class of name (cached) and
    substituting the real name gives the same key at a fraction of the cost. The seed test
    compares the two for every generated frame.
    """
    from obsarchive.server.frames.storage import frame_object_key

    stand_in = f"stand-in{name_class}"
    key = frame_object_key(
        basename=stand_in,
        extension=extension,
        site_id=site_id,
        instrument_id=instrument_id,
        observation_day=day,
        reduction_level=reduction_level,
        configuration_type=configuration_type,
    )
    return key[: -len(stand_in + extension)] + "{}" + extension


def _object_key(
    name: str,
    extension: str,
    site_id: str,
    instrument_id: str,
    day: dt.date,
    reduction_level: int,
    configuration_type: str,
) -> str:
    name_class = ("bpm" if "bpm" in name.lower() else "") + name[-2:]
    template = _key_template(
        site_id, instrument_id, day, reduction_level, configuration_type, extension, name_class
    )
    return template.replace("{}", name)


def generate_frames(
    count: int, *, seed: int = 1, end: dt.date | None = None
) -> Iterator[FramePlan]:
    """Yield ``count`` frame plans in ingest order (chronological by night).

    Parameters
    ----------
    count
        Number of ingested products (placeholders created by related-frame links come on top).
    seed
        Random seed: the same arguments give the same archive.
    end
        The day after the last night (default: today, UTC), so the newest year is proprietary
        as in a live archive. The first night is ten years earlier.

    Notes
    -----
    Needs Django configured (the footprint, sky-cell and object-key functions are the
    server's own, so the values are exactly what an ingest computes).
    """
    if count < 0:
        raise ValueError("count must not be negative")
    generator = _Generator(count, seed, end or dt.datetime.now(UTC).date())
    for day, camera, quota in generator.camera_nights():
        yield from generator.night(day, camera, quota)


def plan_statistics(plans: list[FramePlan]) -> dict[str, Any]:
    """Counts by type and level of some plans (for the seed report and tests)."""
    by_type: dict[str, int] = {}
    for plan in plans:
        kind = plan.fields["configuration_type"]
        by_type[kind] = by_type.get(kind, 0) + 1
    return {
        "frames": len(plans),
        "by_configuration_type": dict(sorted(by_type.items())),
        "with_area": sum(1 for p in plans if p.footprint is not None),
        "versions": sum(len(p.versions) for p in plans),
    }
