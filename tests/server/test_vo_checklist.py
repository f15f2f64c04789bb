"""The 40-item acceptance checklist of the VO interfaces (reference vo-interfaces.md section 7).

One test per item, named after it; black-box: HTTP requests in, documents out. Items that
need a real client run pyvo against pytest-django's live server; the others use Django's test
client. Item 40's timing is not asserted (project rule: no wall-clock assertions in tests);
what makes it fast -- streaming and a fixed number of queries -- is.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
import warnings
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np
import pytest
import requests
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.nddata import Cutout2D
from astropy.time import Time
from astropy.wcs import WCS
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.server.test_vo_helpers import (
    BIAS,
    CATALOGUE,
    DARK,
    FLAT,
    IVOID,
    POLE,
    PROPRIETARY,
    RAW,
    REDUCED,
    SPECTRUM,
    UNFILTERED,
    ZERO,
    body,
    configure,
    query_status,
    results,
    run_stilts,
    standard_archive,
    table_rows,
    votable,
)

pytestmark = pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")

VOTABLE_MIME = "application/x-votable+xml"
DATALINK_MIME = "application/x-votable+xml;content=datalink"
IMAGES = {BIAS, DARK, FLAT, RAW, REDUCED, ZERO, POLE, UNFILTERED}  # visible anonymously


@pytest.fixture
def archive(vo_archive: Any) -> dict[str, Any]:
    return standard_archive(vo_archive)


@pytest.fixture
def live_archive(live_vo_archive: Any) -> dict[str, Any]:
    return standard_archive(live_vo_archive)


def token(user: Any) -> dict[str, str]:
    from obsarchive.server.accounts.services import token_for

    return {"HTTP_AUTHORIZATION": f"Token {token_for(user).key}"}


def sia(client: Client, params: Any = None, **headers: str) -> Any:
    return client.get("/vo/sia2", params or {}, **headers)


def names(response: Any) -> set[str]:
    assert response.status_code == 200, body(response)[:500]
    return {row["basename"] for row in table_rows(votable(response))}


def rows_by_name(response: Any) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, body(response)[:500]
    return {row["basename"]: row for row in table_rows(votable(response))}


def error_text(response: Any) -> str:
    statuses = query_status(votable(response))
    assert [value for value, _ in statuses] == ["ERROR"], statuses
    return statuses[0][1]


def links_rows(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, body(response)[:500]
    return table_rows(votable(response))


def did(name: str) -> str:
    return f"{IVOID}?{name}"


# -- an independent spherical oracle ---------------------------------------------------------
# Plain vector geometry, written here without obsarchive.sky: footprints are convex polygons
# with great-circle edges; a circle meets one when its centre is inside or an edge is within
# the radius; two polygons meet when a vertex of one is inside the other or two edges cross.


def unit(lon: float, lat: float) -> np.ndarray:
    lon_r, lat_r = math.radians(lon), math.radians(lat)
    return np.array(
        [math.cos(lat_r) * math.cos(lon_r), math.cos(lat_r) * math.sin(lon_r), math.sin(lat_r)]
    )


def angle(a: np.ndarray, b: np.ndarray) -> float:
    return math.atan2(float(np.linalg.norm(np.cross(a, b))), float(a @ b))


class ConvexOracle:
    def __init__(self, vertices: list[tuple[float, float]]) -> None:
        points = [unit(lon, lat) for lon, lat in vertices]
        if float(np.cross(points[0], points[1]) @ points[2]) < 0:
            points.reverse()  # counter-clockwise seen from outside: inside on the left
        self.points = points
        self.edges = list(zip(points, points[1:] + points[:1], strict=True))

    @classmethod
    def of(cls, area: dict[str, Any]) -> ConvexOracle:
        return cls([(lon, lat) for lon, lat in area["coordinates"][0][:-1]])

    def contains(self, p: np.ndarray) -> bool:
        return all(float(np.cross(a, b) @ p) >= -1e-15 for a, b in self.edges)

    @staticmethod
    def arc_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
        normal = np.cross(a, b)
        normal /= np.linalg.norm(normal)
        foot = p - (p @ normal) * normal
        if float(np.cross(a, foot) @ normal) >= 0 and float(np.cross(foot, b) @ normal) >= 0:
            return math.asin(min(1.0, abs(float(p @ normal))))
        return min(angle(p, a), angle(p, b))

    def meets_circle(self, ra: float, dec: float, radius: float) -> bool:
        centre = unit(ra, dec)
        if self.contains(centre):
            return True
        return min(self.arc_distance(centre, a, b) for a, b in self.edges) <= math.radians(radius)

    def meets_polygon(self, other: ConvexOracle) -> bool:
        if any(self.contains(p) for p in other.points) or any(
            other.contains(p) for p in self.points
        ):
            return True
        for a, b in self.edges:
            for c, d in other.edges:
                crossing = np.cross(np.cross(a, b), np.cross(c, d))
                if np.linalg.norm(crossing) == 0:
                    continue
                for x in (crossing, -crossing):
                    x = x / np.linalg.norm(x)
                    on_first = abs(angle(a, x) + angle(x, b) - angle(a, b)) < 1e-12
                    on_second = abs(angle(c, x) + angle(x, d) - angle(c, d)) < 1e-12
                    if on_first and on_second:
                        return True
        return False


def oracle(archive: dict[str, Any], meets: Any, candidates: set[str] = IMAGES) -> set[str]:
    """The images whose footprint ``meets`` (a predicate on a ConvexOracle) accepts."""
    return {
        name
        for name in candidates
        if archive[name].frame.area is not None and meets(ConvexOracle.of(archive[name].frame.area))
    }


# -- VOSI -------------------------------------------------------------------------------------


def test_item_01_capabilities(db: Any, client: Client) -> None:
    import xml.etree.ElementTree as ET

    for headers in ({}, {"HTTP_AUTHORIZATION": "Token not-a-valid-token"}):
        response = client.get("/vo/capabilities", **headers)
        assert response.status_code == 200
        assert "xml" in response["Content-Type"]
        root = ET.fromstring(response.content)
        assert root.tag == "{http://www.ivoa.net/xml/VOSICapabilities/v1.0}capabilities"
        found = {}
        xsi = "{http://www.w3.org/2001/XMLSchema-instance}type"
        for capability in root.findall("capability"):
            interface = capability.find("interface")
            assert interface is not None and interface.get(xsi) == "vs:ParamHTTP"
            found[capability.get("standardID")] = interface.find("accessURL").text
        assert set(found) == {
            "ivo://ivoa.net/std/SIA#query-2.0",
            "ivo://ivoa.net/std/DataLink#links-1.1",
            "ivo://ivoa.net/std/SODA#sync-1.0",
            "ivo://ivoa.net/std/VOSI#capabilities",
            "ivo://ivoa.net/std/VOSI#availability",
        }
        assert all(url.startswith("http://testserver/vo/") for url in found.values())
        assert found["ivo://ivoa.net/std/SIA#query-2.0"] == "http://testserver/vo/sia2"


def test_item_02_availability(db: Any, client: Client) -> None:
    import xml.etree.ElementTree as ET

    response = client.get("/vo/availability")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    namespace = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
    assert root.tag == f"{namespace}availability"
    assert root.find(f"{namespace}available").text == "true"


def test_item_03_pyvo_finds_the_query_endpoint(live_vo_archive: Any, live_server: Any) -> None:
    import pyvo

    base = live_server.url + "/vo"
    for url in (base, base + "/sia2"):
        assert pyvo.dal.SIA2Service(url).query_ep == base + "/sia2"
    for child in ("/sia2/capabilities", "/sia2/anything/else", "/nonsense"):
        response = requests.get(base + child, allow_redirects=False, timeout=30)
        assert response.status_code == 404, child


# -- SIA: document shape --------------------------------------------------------------------


def test_item_04_empty_query_document(archive: Any, client: Client, tmp_path: Any) -> None:
    response = sia(client)
    assert response.status_code == 200
    assert response["Content-Type"] == VOTABLE_MIME
    data = body(response)
    document = votable(data)
    resource = results(document)
    assert resource.type == "results"
    assert (resource.infos[0].name, resource.infos[0].value) == ("QUERY_STATUS", "OK")
    assert {row["basename"] for row in table_rows(document)} == IMAGES
    saved = tmp_path / "sia.xml"
    saved.write_bytes(data)
    report = run_stilts("votlint", f"votable={saved}")
    assert "ERROR" not in report and "WARNING" not in report, report


# ObsCore 1.1 section 3.2 / Appendix C, typed in here independently of the implementation.
MANDATORY = [
    # name, unit, ucd, utype (without "obscore:")
    ("dataproduct_type", None, "meta.code.class", "ObsDataset.dataProductType"),
    ("calib_level", None, "meta.code;obs.calib", "ObsDataset.calibLevel"),
    ("obs_collection", None, "meta.id", "DataID.collection"),
    ("obs_id", None, "meta.id", "DataID.observationID"),
    ("obs_publisher_did", None, "meta.ref.ivoid", "Curation.publisherDID"),
    ("access_url", None, "meta.ref.url", "Access.Reference"),
    ("access_format", None, "meta.code.mime", "Access.format"),
    ("access_estsize", "kbyte", "phys.size;meta.file", "Access.size"),
    ("target_name", None, "meta.id;src", "Target.name"),
    ("s_ra", "deg", "pos.eq.ra",
     "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C1"),
    ("s_dec", "deg", "pos.eq.dec",
     "Char.SpatialAxis.Coverage.Location.Coord.Position2D.Value2.C2"),
    ("s_fov", "deg", "phys.angSize;instr.fov", "Char.SpatialAxis.Coverage.Bounds.Extent.diameter"),
    ("s_region", None, "pos.outline;obs.field", "Char.SpatialAxis.Coverage.Support.Area"),
    ("s_resolution", "arcsec", "pos.angResolution", "Char.SpatialAxis.Resolution.Refval.value"),
    ("s_xel1", None, "meta.number", "Char.SpatialAxis.numBins1"),
    ("s_xel2", None, "meta.number", "Char.SpatialAxis.numBins2"),
    ("t_min", "d", "time.start;obs.exposure", "Char.TimeAxis.Coverage.Bounds.Limits.StartTime"),
    ("t_max", "d", "time.end;obs.exposure", "Char.TimeAxis.Coverage.Bounds.Limits.StopTime"),
    ("t_exptime", "s", "time.duration;obs.exposure", "Char.TimeAxis.Coverage.Support.Extent"),
    ("t_resolution", "s", "time.resolution", "Char.TimeAxis.Resolution.Refval.value"),
    ("t_xel", None, "meta.number", "Char.TimeAxis.numBins"),
    ("em_min", "m", "em.wl;stat.min", "Char.SpectralAxis.Coverage.Bounds.Limits.LoLimit"),
    ("em_max", "m", "em.wl;stat.max", "Char.SpectralAxis.Coverage.Bounds.Limits.HiLimit"),
    ("em_res_power", None, "spect.resolution", "Char.SpectralAxis.Resolution.ResolPower.refVal"),
    ("em_xel", None, "meta.number", "Char.SpectralAxis.numBins"),
    ("o_ucd", None, "meta.ucd", "Char.ObservableAxis.ucd"),
    ("pol_states", None, "meta.code;phys.polarization", "Char.PolarizationAxis.stateList"),
    ("pol_xel", None, "meta.number", "Char.PolarizationAxis.numBins"),
    ("facility_name", None, "meta.id;instr.tel", "Provenance.ObsConfig.Facility.name"),
    ("instrument_name", None, "meta.id;instr", "Provenance.ObsConfig.Instrument.name"),
    ("proposal_id", None, "meta.id;obs.proposal", "Provenance.Proposal.identifier"),
]  # fmt: skip


def test_item_05_obscore_fields(db: Any, vo_archive: Any, client: Client) -> None:
    assert len(MANDATORY) == 31  # the 30 mandatory columns and proposal_id
    table = results(votable(sia(client))).tables[0]
    fields = {field.name: field for field in table.fields}
    for name, unit, ucd, utype in MANDATORY:
        field = fields[name]
        assert (str(field.unit) if field.unit is not None else None) == unit, name
        assert field.ucd == ucd, name
        assert field.utype == f"obscore:{utype}", name


def test_item_06_values_are_consistent(archive: Any, client: Client) -> None:
    rows = rows_by_name(sia(client))
    assert set(rows) == IMAGES
    dids = [row["obs_publisher_did"] for row in rows.values()]
    assert len(set(dids)) == len(dids)
    for name, row in rows.items():
        product = archive[name]
        assert row["calib_level"] in range(5)
        assert row["obs_collection"] and row["obs_id"] and row["obs_publisher_did"]
        assert row["t_max"] >= row["t_min"]
        date_obs = Time(product.frame.observation_date).mjd
        assert abs(row["t_min"] - date_obs) < 1e-6
        assert abs(row["t_max"] - row["t_min"] - row["t_exptime"] / 86400) < 1e-9
        assert row["access_estsize"] == math.ceil(len(product.data) / 1000)
        assert ConvexOracle.of(product.frame.area).contains(unit(row["s_ra"], row["s_dec"])), name
        assert row["s_region"].startswith("POLYGON ICRS ")
    assert rows[RAW]["em_min"] == pytest.approx(4.8e-7) and rows[RAW]["em_max"] == pytest.approx(
        7.3e-7
    )
    assert rows[RAW]["em_min"] < rows[RAW]["em_max"]
    assert rows[UNFILTERED]["em_min"] is None and rows[UNFILTERED]["em_max"] is None
    assert rows[RAW]["obs_id"] == rows[REDUCED]["obs_id"] == "coj1m011-kb05-20150219-0125"
    assert (rows[RAW]["calib_level"], rows[REDUCED]["calib_level"], rows[BIAS]["calib_level"]) == (
        1, 2, 3,
    )  # fmt: skip


def form(data: dict[str, Any]) -> dict[str, Any]:
    """A form-encoded POST body, as pyvo sends one."""
    return {
        "data": urlencode(data, doseq=True),
        "content_type": "application/x-www-form-urlencoded",
    }


def test_item_07_post_and_lower_case_names(archive: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    query = {"POS": "CIRCLE 10.68 41.27 0.1", "BAND": "5e-7 6e-7"}
    by_get = names(client.get("/vo/sia2", query))
    by_post = names(client.post("/vo/sia2", **form(query)))
    lower = names(client.get("/vo/sia2", {k.lower(): v for k, v in query.items()}))
    assert by_get == by_post == lower == {BIAS, DARK, FLAT, RAW, REDUCED}


# -- SIA: constraints -----------------------------------------------------------------------


def test_item_08_circle_matches_the_oracle(archive: Any, client: Client) -> None:
    cases = [
        (10.68, 41.27, 0.1),
        (10.68, 41.2775, 0.0035),  # near the edge of the M 31 frames
        (359.999, 0.0, 0.002),  # the RA=0 straddler from the west ...
        (0.001, 0.0, 0.002),  # ... and from the east
        (-0.001, 0.0, 0.002),  # a negative RA names the same place
        (0.01, 0.0, 0.002),  # beside it
        (210.0, 90.0, 0.001),  # the pole, inside the polar frame
        (30.0, 89.99, 0.005),  # near the pole, outside it
        (0.0, 0.0, 90.0),
    ]
    for ra, dec, radius in cases:
        found = names(sia(client, {"POS": f"CIRCLE {ra} {dec} {radius}"}))
        expected = oracle(archive, lambda f, c=(ra % 360, dec, radius): f.meets_circle(*c))
        assert found == expected, (ra, dec, radius)
    assert names(sia(client, {"POS": "CIRCLE 359.999 0 0.002"})) == {ZERO}
    assert names(sia(client, {"POS": "CIRCLE 0.001 0 0.002"})) == {ZERO}
    assert names(sia(client, {"POS": "CIRCLE 123 90 0.001"})) == {POLE}


def test_item_08_pyvo_across_ra_zero_and_at_the_pole(live_archive: Any, live_server: Any) -> None:
    import pyvo

    service = pyvo.dal.SIA2Service(live_server.url + "/vo")
    window = (Time("2015-02-19"), Time("2015-02-23"))
    for ra in (359.999, 0.001):
        found = service.search(pos=(ra, 0.0, 0.002), time=window, band=(5.5e-7, 6e-7))
        assert {r["basename"] for r in found} == {ZERO}, ra
    found = service.search(pos=(123.0, 90.0, 0.001), time=window, band=(7e-7, 8e-7))
    assert {r["basename"] for r in found} == {POLE}
    assert len(service.search(pos=(123.0, 90.0, 0.001), band=(4e-7, 5e-7))) == 0


def test_item_09_range_polygon_union_and_intersection(archive: Any, client: Client) -> None:
    # The M 31 frames lie well inside this lon/lat box, the others well outside.
    assert names(sia(client, {"POS": "RANGE 10.6 10.7 41.2 41.3"})) == {BIAS, DARK, FLAT, RAW,
                                                                       REDUCED}  # fmt: skip
    assert names(sia(client, {"POS": "RANGE 359.99 0.01 -0.01 0.01"})) == {ZERO}
    assert names(sia(client, {"POS": "RANGE -inf +inf 89.9 +inf"})) == {POLE}
    polygon = "POLYGON 10.6 41.2 10.7 41.2 10.7 41.3 10.6 41.3"
    vertices = [(10.6, 41.2), (10.7, 41.2), (10.7, 41.3), (10.6, 41.3)]
    region = ConvexOracle(vertices)
    expected = oracle(archive, lambda f: f.meets_polygon(region))
    assert names(sia(client, {"POS": polygon})) == expected == {BIAS, DARK, FLAT, RAW, REDUCED}
    # A thin polygon crossing the frames without a vertex inside them, nor they in it.
    cross = [(10.6, 41.2699), (10.7, 41.2699), (10.7, 41.2701), (10.6, 41.2701)]
    text = "POLYGON " + " ".join(f"{a} {b}" for a, b in cross)
    expected = oracle(archive, lambda f: f.meets_polygon(ConvexOracle(cross)))
    assert names(sia(client, {"POS": text})) == expected == {BIAS, DARK, FLAT, RAW, REDUCED}
    both = names(sia(client, {"POS": [polygon, "CIRCLE 0 0 0.01"]}))
    assert both == {BIAS, DARK, FLAT, RAW, REDUCED, ZERO}
    narrowed = names(sia(client, {"POS": [polygon, "CIRCLE 0 0 0.01"], "INSTRUMENT": "fs02"}))
    assert narrowed == {ZERO}


def test_item_10_band(archive: Any, client: Client) -> None:
    v_band = {BIAS, DARK, FLAT, RAW, REDUCED}
    assert names(sia(client, {"BAND": "5e-7 6e-7"})) == v_band | {ZERO}
    assert names(sia(client, {"BAND": "5.5e-7"})) == v_band | {ZERO}
    for value in ("-inf 4e-7", "-Inf 4e-7"):
        assert names(sia(client, {"BAND": value})) == set(), value
    for value in ("7e-7 +Inf", "7e-7 inf"):
        assert names(sia(client, {"BAND": value})) == v_band | {ZERO, POLE}, value
    assert names(sia(client, {"BAND": "7.25e-7 INF"})) == v_band | {POLE}  # rp ends at 720 nm
    assert names(sia(client, {"BAND": "-inf +inf"})) == IMAGES - {UNFILTERED}


def test_item_11_time(archive: Any, client: Client) -> None:
    start = Time(archive[RAW].frame.observation_date).mjd
    assert names(sia(client, {"TIME": f"{start - 0.001} {start + 0.0001}"})) == {RAW, REDUCED}
    inside = start + 45 / 86400  # the 90 s exposure is still open
    assert names(sia(client, {"TIME": f"{inside}"})) == {RAW, REDUCED}
    after = start + 91 / 86400
    assert RAW not in names(sia(client, {"TIME": f"{after} {after + 0.01}"}))
    assert names(sia(client, {"TIME": "-inf +inf"})) == IMAGES
    assert names(sia(client, {"TIME": "0 1"})) == set()


def test_item_12_intervals_are_inclusive(archive: Any, client: Client) -> None:
    assert names(sia(client, {"EXPTIME": "90 90"})) == {RAW, REDUCED}
    assert names(sia(client, {"EXPTIME": "90"})) == {RAW, REDUCED}
    assert names(sia(client, {"EXPTIME": "90.001 1000"})) == {DARK, POLE}
    fov = rows_by_name(sia(client))[RAW]["s_fov"]
    assert RAW in names(sia(client, {"FOV": f"{fov} {fov}"}))
    assert RAW not in names(sia(client, {"FOV": f"{fov * 1.001} 1"}))
    # s_resolution: the seeing (L1FWHM) when measured, else the pixel scale (PIXSCALE).
    assert names(sia(client, {"SPATRES": "2.1 2.1"})) == {REDUCED}
    assert names(sia(client, {"SPATRES": "0.389"})) == {POLE}
    assert names(sia(client, {"SPATRES": "-inf +inf"})) == {POLE, REDUCED}


def test_item_13_string_and_code_constraints(archive: Any, client: Client) -> None:
    assert names(sia(client, {"INSTRUMENT": "fs02"})) == {ZERO}
    assert names(sia(client, {"INSTRUMENT": "FS02"})) == set()
    assert names(sia(client, {"INSTRUMENT": ["fs02", "fa15"]})) == {ZERO, POLE}
    assert names(sia(client, {"FACILITY": "LCO 2m0a ogg"})) == {ZERO}
    assert names(sia(client, {"FACILITY": "lco 2m0a ogg"})) == set()
    assert names(sia(client, {"COLLECTION": "LCO/fa15"})) == {POLE}
    assert names(sia(client, {"COLLECTION": ["LCO/fa15", "LCO/fs02"]})) == {POLE, ZERO}
    assert names(sia(client, {"TARGET": "Zero"})) == {ZERO}
    assert names(sia(client, {"TARGET": "zero"})) == set()
    assert names(sia(client, {"CALIB": "1"})) == {RAW, ZERO, POLE, UNFILTERED}
    assert names(sia(client, {"CALIB": ["1", "2"]})) == {RAW, REDUCED, ZERO, POLE, UNFILTERED}
    assert names(sia(client, {"CALIB": "3"})) == {BIAS, DARK, FLAT}
    assert names(sia(client, {"DPTYPE": "image"})) == IMAGES
    assert names(sia(client, {"DPTYPE": "spectrum"})) == set()


def test_item_14_id(archive: Any, client: Client) -> None:
    assert names(sia(client, {"ID": did(RAW)})) == {RAW}
    assert names(sia(client, {"ID": did(RAW).upper()})) == {RAW}
    assert names(sia(client, {"ID": [did(RAW), did(ZERO)]})) == {RAW, ZERO}
    assert names(sia(client, {"ID": "ivo://elsewhere/x?" + RAW})) == set()


def test_item_15_unknown_parameters_are_ignored(archive: Any, client: Client) -> None:
    plain = names(sia(client, {"POS": "CIRCLE 0 0 0.01"}))
    assert names(sia(client, {"POS": "CIRCLE 0 0 0.01", "NOSUCHPARAM": "x", "foo": "1"})) == plain


# -- SIA: limits and errors -----------------------------------------------------------------


def test_item_16_maxrec_overflow(live_archive: Any, live_server: Any) -> None:
    import pyvo

    response = requests.get(live_server.url + "/vo/sia2", {"MAXREC": "2"}, timeout=30)
    document = votable(response.content)
    assert len(table_rows(document)) == 2
    assert [value for value, _ in query_status(document)] == ["OK", "OVERFLOW"]
    service = pyvo.dal.SIA2Service(live_server.url + "/vo")
    with warnings.catch_warnings():
        warnings.simplefilter("error", pyvo.dal.exceptions.DALOverflowWarning)
        assert len(service.search(maxrec=2)) == 2


def test_item_17_maxrec_zero(live_vo_archive: Any, live_server: Any) -> None:
    import pyvo

    standard_archive(live_vo_archive)
    response = requests.get(live_server.url + "/vo/sia2", {"MAXREC": "0"}, timeout=30)
    document = votable(response.content)
    assert table_rows(document) == []
    assert [value for value, _ in query_status(document)] == ["OK", "OVERFLOW"]
    result = pyvo.dal.SIA2Service(live_server.url + "/vo").search(maxrec=0)
    assert len(result) == 0
    assert {name for name, *_ in MANDATORY} <= set(result.fieldnames)


def test_item_18_default_limit(live_vo_archive: Any, live_server: Any, settings: Any) -> None:
    import pyvo

    standard_archive(live_vo_archive)
    configure(settings, live_vo_archive.root, live_vo_archive.base_url, maxrec_default=3,
              maxrec_limit=5)  # fmt: skip
    document = votable(requests.get(live_server.url + "/vo/sia2", timeout=30).content)
    assert len(table_rows(document)) == 3
    assert query_status(document)[-1][0] == "OVERFLOW"
    many = votable(requests.get(live_server.url + "/vo/sia2", {"MAXREC": 100}, timeout=30).content)
    assert len(table_rows(many)) == 5 and query_status(many)[-1][0] == "OVERFLOW"
    service = pyvo.dal.SIA2Service(live_server.url + "/vo")
    with pytest.warns(pyvo.dal.exceptions.DALOverflowWarning, match="server limits"):
        assert len(service.search()) == 3
    capabilities = requests.get(live_server.url + "/vo/capabilities", timeout=30).text
    assert "at most 3 rows" in capabilities and "capped at 5" in capabilities
    described = next(r for r in document.resources if r.type == "meta" and r.name == "this")
    maxrec = next(p for p in described.groups[0].entries if p.name == "MAXREC")
    assert maxrec.values.max == 5 and "default 3" in maxrec.description


@pytest.mark.parametrize(
    "params",
    [
        {"POS": "CIRCLE 10 95 1"},
        {"POS": "CIRCLE 10 10 0"},
        {"POS": "POLYGON 1 2 3 4"},
        {"POS": "BOX 1 2 3"},
        {"BAND": "abc"},
        {"BAND": "6e-7 5e-7"},
        {"CALIB": "x"},
        {"MAXREC": "-1"},
        {"TIME": "1 2 3"},
        {"EXPTIME": "nan"},
    ],
)
def test_item_19_usage_faults(db: Any, client: Client, params: dict[str, str]) -> None:
    response = sia(client, params)
    assert response.status_code == 400
    assert response["Content-Type"] == VOTABLE_MIME
    assert error_text(response).startswith("UsageFault")


def test_item_19_pyvo_raises_the_message(live_vo_archive: Any, live_server: Any) -> None:
    import pyvo

    service = pyvo.dal.SIA2Service(live_server.url + "/vo")
    for name, value in (("POS", "CIRCLE 10 95 1"), ("MAXREC", "-1"), ("BAND", "abc")):
        query = pyvo.dal.SIA2Query(service.query_ep)
        query[name] = value
        with pytest.raises(pyvo.dal.DALQueryError, match=f"^UsageFault: .*{name}"):
            query.execute()


def test_item_20_single_valued_and_response_format(db: Any, client: Client) -> None:
    for params in ({"MAXREC": ["1", "2"]}, {"RESPONSEFORMAT": ["votable", "votable"]}):
        response = sia(client, params)
        assert response.status_code == 400 and error_text(response).startswith("UsageFault")
    for value in ("votable", "application/x-votable+xml", "VOTABLE"):
        response = sia(client, {"RESPONSEFORMAT": value})
        assert response.status_code == 200 and query_status(votable(response))[0][0] == "OK"
    response = sia(client, {"RESPONSEFORMAT": "application/x-nonsense"})
    assert response.status_code == 400 and error_text(response).startswith("UsageFault")


def test_item_21_visibility_equals_the_frames_api(archive: Any, client: Client, world: Any) -> None:
    def frames_api(headers: dict[str, str]) -> set[str]:
        response = client.get("/frames/", {"limit": 1000}, **headers)
        assert response.status_code == 200
        return {row["basename"] for row in response.json()["results"]}

    anonymous = names(sia(client))
    assert PROPRIETARY not in anonymous
    member = names(sia(client, **token(world.member)))
    assert PROPRIETARY in member
    stranger = names(sia(client, **token(world.stranger)))
    assert PROPRIETARY not in stranger
    for headers, found in (({}, anonymous), (token(world.member), member)):
        api = frames_api(headers)
        assert found == api - {CATALOGUE, SPECTRUM}  # SIA serves images only
    cone = {"POS": "CIRCLE 150 2 0.1"}
    assert names(sia(client, cone)) == set()
    assert names(sia(client, cone, **token(world.member))) == {PROPRIETARY}
    response = client.get("/frames/", {"ra": 150, "dec": 2, "radius": 0.1}, **token(world.member))
    assert response.json()["count"] == 1


# -- SIA: pyvo ------------------------------------------------------------------------------


def test_item_22_pyvo_record(live_archive: Any, live_server: Any, datalink_vocabulary: Any) -> None:
    import pyvo

    service = pyvo.dal.SIA2Service(live_server.url + "/vo")
    result = service.search(
        pos=(10.68, 41.27, 0.1), time=(Time("2015-02-19"), Time("2015-02-20")), band=(5e-7, 6e-7)
    )
    assert {record["basename"] for record in result} == {BIAS, DARK, FLAT, RAW, REDUCED}
    record = next(r for r in result if r["basename"] == RAW)
    assert isinstance(record.t_min, Time)
    assert record.s_ra.unit == u.deg
    assert record.proposal_id == "LCO2015A-001"
    assert record.getdataurl() is not None
    assert record.getdataformat() == record.access_format == "application/fits"
    data = record.getdataset().read()
    assert hashlib.md5(data).hexdigest() == live_archive[RAW].md5


def test_item_23_descriptors_in_the_response(live_archive: Any, live_server: Any) -> None:
    import pyvo

    response = requests.get(live_server.url + "/vo/sia2", {"POS": "CIRCLE 0 0 1"}, timeout=30)
    document = votable(response.content)
    table = results(document).tables[0]
    pubdid = next(f for f in table.fields if f.name == "obs_publisher_did")
    services = [r for r in document.resources if r.type == "meta" and r.utype == "adhoc:service"]
    by_standard = {next(p.value for p in r.params if p.name == "standardID"): r for r in services}
    datalink = [
        r for s, r in by_standard.items() if s.startswith("ivo://ivoa.net/std/DataLink#links")
    ]
    assert len(datalink) == 1
    id_param = next(p for p in datalink[0].groups[0].entries if p.name == "ID")
    assert id_param.ref == pubdid.ID
    assert "ivo://ivoa.net/std/SODA#sync-1.0" in by_standard
    result = pyvo.dal.SIA2Service(live_server.url + "/vo").search(pos=(10.68, 41.27, 0.1))
    rows = {r["basename"] for r in result}
    links = list(result.iter_datalinks())
    assert len(links) == len(rows)
    assert {dl.original_row["basename"] for dl in links} == rows
    for dl in links:
        assert {x.id for x in dl} == {dl.original_row["obs_publisher_did"]}


# -- DataLink -------------------------------------------------------------------------------


LINK_UCDS = {
    "ID": "meta.id;meta.main",
    "access_url": "meta.ref.url",
    "service_def": "meta.ref",
    "error_message": "meta.code.error",
    "description": "meta.note",
    "semantics": "meta.code",
    "content_type": "meta.code.mime",
    "content_length": "phys.size;meta.file",
}


def test_item_24_links_document(live_archive: Any, live_server: Any) -> None:
    url = f"{live_server.url}/vo/links?ID={did(REDUCED)}"
    response = requests.get(url, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == DATALINK_MIME
    document = votable(response.content)
    resource = results(document)
    assert ("standardID", "ivo://ivoa.net/std/DataLink#links-1.1") in [
        (i.name, i.value) for i in resource.infos
    ]
    fields = {f.name: f for f in resource.tables[0].fields}
    assert {name: fields[name].ucd for name in LINK_UCDS} == LINK_UCDS
    length = fields["content_length"]
    assert (length.datatype, str(length.unit)) == ("long", "byte")
    report = run_stilts("datalinklint", f"votable={url}")
    assert "Errors: 0; Warnings: 0" in report, report


def test_item_25_link_rows(live_archive: Any, live_server: Any) -> None:
    response = requests.get(
        live_server.url + "/vo/links", {"ID": [did(REDUCED), did(RAW)]}, timeout=30
    )
    rows = table_rows(votable(response.content))
    for row in rows:
        targets = [row[k] for k in ("access_url", "service_def", "error_message") if row[k]]
        assert len(targets) == 1, row
    reduced = [r for r in rows if r["ID"] == did(REDUCED)]
    raw = [r for r in rows if r["ID"] == did(RAW)]
    this = [r for r in reduced if r["semantics"] == "#this"]
    assert len(this) == 1
    download = requests.get(this[0]["access_url"], timeout=30)
    assert hashlib.md5(download.content).hexdigest() == live_archive[REDUCED].md5
    assert this[0]["content_length"] == len(live_archive[REDUCED].data)
    semantics = {r["semantics"]: r for r in reduced}
    for term, name in (("#bias", BIAS), ("#dark", DARK), ("#flat", FLAT), ("#progenitor", RAW)):
        assert semantics[term]["description"].endswith(name), term
        fetched = requests.get(semantics[term]["access_url"], timeout=30).content
        assert hashlib.md5(fetched).hexdigest() == live_archive[name].md5
    assert semantics["#auxiliary"]["description"].endswith(CATALOGUE)
    derivations = {
        r["description"].rsplit(": ", 1)[-1] for r in raw if r["semantics"] == "#derivation"
    }
    assert derivations == {REDUCED, CATALOGUE}
    previews = [r for r in raw if r["semantics"] in ("#preview", "#preview-image")]
    assert {r["content_type"] for r in previews} == {"image/jpeg"} and len(previews) == 2
    jpeg = requests.get(previews[0]["access_url"], timeout=30)
    assert jpeg.status_code == 200 and jpeg.content[:2] == b"\xff\xd8"


def test_item_26_many_ids_by_get_and_post(archive: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    ids = [did(ZERO), did(RAW), did(POLE)]
    posted = client.post("/vo/links", **form({"ID": ids}))
    for response in (client.get("/vo/links", {"ID": ids}), posted):
        order = [row["ID"] for row in links_rows(response)]
        blocks = [key for i, key in enumerate(order) if i == 0 or order[i - 1] != key]
        assert blocks == ids


def test_item_27_unknown_and_proprietary_ids(
    live_archive: Any, live_server: Any, datalink_vocabulary: Any
) -> None:
    import pyvo

    answers = []
    for value in ("ivo://nope", did(PROPRIETARY)):
        response = requests.get(live_server.url + "/vo/links", {"ID": value}, timeout=30)
        assert response.status_code == 200
        rows = table_rows(votable(response.content))
        assert len(rows) == 1
        row = rows[0]
        assert (row["ID"], row["semantics"]) == (value, "#this")
        assert row["error_message"].startswith("NotFoundFault")
        answers.append(row["error_message"].replace(value, "<ID>"))
    assert answers[0] == answers[1]
    links = pyvo.dal.adhoc.DatalinkResults.from_result_url(
        f"{live_server.url}/vo/links?ID={did(PROPRIETARY)}"
    )
    with pytest.raises(pyvo.dal.DALServiceError, match="NotFoundFault"):
        links[0].getdataurl()


def test_item_28_no_id_and_the_id_cap(
    archive: Any, client: Client, settings: Any, vo_archive: Any
) -> None:
    response = client.get("/vo/links")
    assert links_rows(response) == []
    assert query_status(votable(response))[-1][0] == "OK"
    configure(settings, vo_archive.root, vo_archive.base_url, links_max_ids=2)
    response = client.get("/vo/links", {"ID": [did(RAW), did(REDUCED), did(ZERO)]})
    rows = links_rows(response)
    assert [value for value, _ in query_status(votable(response))] == ["OK", "OVERFLOW"]
    assert {r["ID"] for r in rows} == {did(RAW), did(REDUCED)}
    full = links_rows(client.get("/vo/links", {"ID": did(REDUCED)}))
    assert len([r for r in rows if r["ID"] == did(REDUCED)]) == len(full)


def test_item_29_links_response_format(archive: Any, client: Client) -> None:
    plain = links_rows(client.get("/vo/links", {"ID": did(RAW)}))
    for value in ("votable", "application/x-votable+xml", DATALINK_MIME):
        rows = links_rows(client.get("/vo/links", {"ID": did(RAW), "RESPONSEFORMAT": value}))
        assert [r["semantics"] for r in rows] == [r["semantics"] for r in plain]
    response = client.get("/vo/links", {"ID": did(RAW), "RESPONSEFORMAT": "text/csv"})
    assert response.status_code == 400 and error_text(response).startswith("UsageFault")


def test_item_30_pyvo_semantics_offline(
    live_archive: Any, live_server: Any, datalink_vocabulary: Any
) -> None:
    import pyvo

    result = pyvo.dal.SIA2Service(live_server.url + "/vo").search(pos=(10.68, 41.27, 0.01))
    record = next(r for r in result if r["basename"] == REDUCED)
    links = record.getdatalink()
    assert len(list(links.bysemantics("#this"))) == 1
    calibrations = {r.description.rsplit(": ", 1)[-1] for r in links.bysemantics("#calibration")}
    assert {BIAS, DARK, FLAT} <= calibrations
    data = record.getdataset().read()
    assert hashlib.md5(data).hexdigest() == live_archive[REDUCED].md5


# -- SODA -----------------------------------------------------------------------------------


def fits_response(response: Any) -> fits.HDUList:
    assert response.status_code == 200, body(response)[:300]
    assert response["Content-Type"] == "application/fits"
    data = body(response)
    assert len(data) == int(response["Content-Length"])
    return fits.open(io.BytesIO(data))


def image_hdu(hdus: fits.HDUList) -> Any:
    return next(h for h in hdus if h.data is not None)


def test_item_31_circle_cutout(archive: Any, client: Client) -> None:
    ra, dec, radius = 10.6805, 41.2702, 0.002
    for name in (RAW, REDUCED):  # .fits and .fits.fz
        full = image_hdu(fits.open(io.BytesIO(archive[name].data)))
        wcs = WCS(full.header)
        expected = Cutout2D(full.data, SkyCoord(ra, dec, unit="deg"), 2 * radius * u.deg, wcs,
                            mode="trim")  # fmt: skip
        response = client.get("/vo/soda", {"ID": did(name), "CIRCLE": f"{ra} {dec} {radius}"})
        cut = image_hdu(fits_response(response))
        assert np.array_equal(cut.data, expected.data), name
        x, y = WCS(cut.header).world_to_pixel(SkyCoord(ra, dec, unit="deg"))
        ny, nx = cut.data.shape
        assert abs(x - (nx - 1) / 2) <= 0.5 and abs(y - (ny - 1) / 2) <= 0.5, (x, y)


def box_of(hdus: fits.HDUList, full: fits.Header) -> tuple[int, int, int, int]:
    """The cut pixels (1-based, inclusive: x0, x1, y0, y1), from the shift of the WCS."""
    header = image_hdu(hdus).header
    x0 = round(full["CRPIX1"] - header["CRPIX1"])
    y0 = round(full["CRPIX2"] - header["CRPIX2"])
    return x0 + 1, x0 + header["NAXIS1"], y0 + 1, y0 + header["NAXIS2"]


def test_item_32_other_shapes_and_clipping(archive: Any, client: Client) -> None:
    full = fits.open(io.BytesIO(archive[RAW].data))[0]
    wcs = WCS(full.header)

    def pixel(ra: float, dec: float) -> tuple[float, float]:
        x, y = wcs.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
        return float(x), float(y)

    # A small polygon: its box spans its vertices' pixels (TAN maps great circles to lines).
    corners = [(10.6795, 41.2695), (10.6810, 41.2697), (10.6802, 41.2708)]
    text = " ".join(f"{a} {b}" for a, b in corners)
    xs, ys = zip(*(pixel(a, b) for a, b in corners), strict=True)
    expected = (
        math.floor(min(xs) + 0.5) + 1, math.floor(max(xs) + 0.5) + 1,
        math.floor(min(ys) + 0.5) + 1, math.floor(max(ys) + 0.5) + 1,
    )  # fmt: skip

    def cut(params: dict[str, str]) -> tuple[int, int, int, int]:
        response = client.get("/vo/soda", {"ID": did(RAW), **params})
        return box_of(fits_response(response), full.header)

    for params in ({"POLYGON": text}, {"POS": f"POLYGON {text}"}):
        got = cut(params)
        assert all(abs(a - b) <= 1 for a, b in zip(got, expected, strict=True)), (got, expected)
    circle = cut({"POS": "CIRCLE 10.68 41.27 0.001"})
    assert abs((circle[1] - circle[0] + 1) - 2 * 3.6 / 0.389) <= 2
    # RANGE over the western half (RA decreases with x): columns from the centre to the edge.
    centre_x, _ = pixel(10.68, 41.27)
    got = cut({"POS": "RANGE 10.0 10.68 0 90"})
    assert (got[1], got[2], got[3]) == (64, 1, 64)
    assert abs(got[0] - (centre_x + 1)) <= 1
    # Partly off the frame (near its east edge, at high x): trimmed, not an error.
    x0, x1, _, _ = cut({"CIRCLE": "10.6762 41.27 0.002"})
    assert x1 == 64 and x1 - x0 + 1 < 2 * 7.2 / 0.389


def test_item_33_disjoint_region(archive: Any, client: Client) -> None:
    for params in ({"CIRCLE": "200 -40 0.1"}, {"POS": "RANGE 20 30 -10 10"},
                   {"CIRCLE": "10.68 41.27 0.001", "BAND": "1e-6 2e-6"}):  # fmt: skip
        response = client.get("/vo/soda", {"ID": did(RAW), **params})
        assert response.status_code == 204 and body(response) == b"", params


@pytest.mark.parametrize(
    ("params", "status", "word"),
    [
        ({"CIRCLE": "10 10 1"}, 400, "UsageError"),
        ({"ID": did("nosuchframe"), "CIRCLE": "10 10 1"}, 404, "UsageError"),
        ({"ID": "ivo://nope", "CIRCLE": "10 10 1"}, 404, "UsageError"),
        ({"ID": did(RAW), "CIRCLE": "10 10"}, 400, "UsageError"),
        ({"ID": did(RAW), "CIRCLE": "10 10 0"}, 400, "UsageError"),
        ({"ID": did(RAW), "CIRCLE": "10 10 -1"}, 400, "UsageError"),
        ({"ID": did(RAW), "POS": "BOX 1 2 3"}, 400, "UsageError"),
        ({"ID": did(RAW), "RESPONSEFORMAT": "text/csv"}, 400, "UsageError"),
        ({"ID": did(RAW), "CIRCLE": "10 10 1", "POLYGON": "1 1 2 2 3 1"}, 400, "UsageError"),
        ({"ID": did(CATALOGUE), "CIRCLE": "10 10 1"}, 400, "UsageError"),
        ({"ID": did(RAW), "CIRCLE": ["10.68 41.27 0.001", "10.68 41.27 0.002"]}, 400,
         "MultiValuedParamNotSupported"),
        ({"ID": [did(RAW), did(REDUCED)], "CIRCLE": "10.68 41.27 0.001"}, 400,
         "MultiValuedParamNotSupported"),
    ],
)  # fmt: skip
def test_item_34_soda_errors(
    archive: Any, client: Client, params: Any, status: int, word: str
) -> None:
    response = client.get("/vo/soda", params)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/plain")
    assert body(response).decode().startswith(word)


def test_item_35_proprietary_cutouts(
    archive: Any, client: Client, world: Any, settings: Any, vo_archive: Any
) -> None:
    query = {"ID": did(PROPRIETARY), "CIRCLE": "150 2 0.001"}
    anonymous = client.get("/vo/soda", query)
    assert anonymous.status_code == 401
    assert body(anonymous).decode().startswith("AuthenticationError")
    assert b"SIMPLE" not in body(anonymous)
    stranger = client.get("/vo/soda", query, **token(world.stranger))
    assert stranger.status_code == 403 and body(stranger).decode().startswith("AuthorizationError")
    assert client.get("/vo/soda", query, **token(world.member)).status_code == 200

    configure(settings, vo_archive.root, vo_archive.base_url, url_expiry=timedelta(seconds=2))
    document = votable(client.get("/vo/links", {"ID": did(PROPRIETARY)}, **token(world.member)))
    descriptor = next(r for r in document.resources if r.type == "meta")
    access = next(p.value for p in descriptor.params if p.name == "accessURL")
    signed = parse_qs(urlsplit(access).query)
    assert set(signed) == {"EXPIRES", "SIGNATURE"}
    anonymous_signed = client.get(urlsplit(access).path, {**query, **signed})
    fits_response(anonymous_signed)
    tampered = client.get(urlsplit(access).path, {**query, **signed, "EXPIRES": "9999999999"})
    assert tampered.status_code == 401
    time.sleep(2.1)
    expired = client.get(urlsplit(access).path, {**query, **signed})
    assert expired.status_code == 401 and b"SIMPLE" not in body(expired)


@pytest.mark.slow
def test_item_36_cutout_memory_is_bounded(db: Any, vo_archive: Any, client: Client) -> None:
    import tracemalloc

    product = vo_archive.add(
        "cpt1m010-fa14-20150301-0001-e91", ra=45.0, dec=-20.0, rlevel=91, compressed=True,
        shape=(4096, 4096),
    )  # fmt: skip
    decompressed = 4096 * 4096 * 4
    tracemalloc.start()
    try:
        response = client.get("/vo/soda", {"ID": product.did, "CIRCLE": "45 -20 0.01"})
        data = body(response)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200 and data[:6] == b"SIMPLE"
    assert peak < 16 * 1024 * 1024 < decompressed, peak


def test_item_37_pyvo_cutouts(
    live_archive: Any, live_server: Any, datalink_vocabulary: Any
) -> None:
    import pyvo

    result = pyvo.dal.SIA2Service(live_server.url + "/vo").search(pos=(10.68, 41.27, 0.01))
    record = next(r for r in result if r["basename"] == REDUCED)
    ra, dec = record.s_ra.value, record.s_dec.value
    first = record.processed(circle=(ra, dec, 0.001)).read()
    links = record.getdatalink()
    second = (
        next(links.bysemantics("#cutout", include_narrower=False))
        .process(circle=(ra, dec, 0.001))
        .read()
    )
    full = image_hdu(fits.open(io.BytesIO(live_archive[REDUCED].data)))
    expected = Cutout2D(full.data, SkyCoord(ra, dec, unit="deg"), 0.002 * u.deg, WCS(full.header))
    for data in (first, second):
        cut = image_hdu(fits.open(io.BytesIO(data)))
        assert np.array_equal(cut.data, expected.data)
        x, y = WCS(cut.header).world_to_pixel(SkyCoord(ra, dec, unit="deg"))
        ny, nx = cut.data.shape
        assert abs(x - (nx - 1) / 2) <= 0.5 and abs(y - (ny - 1) / 2) <= 0.5


# -- cross-cutting --------------------------------------------------------------------------

_words = st.sampled_from(
    ["CIRCLE", "RANGE", "POLYGON", "BOX", "inf", "-Inf", "+inf", "nan", "1e400", "-1", "0",
     "10.5", "91", "361", "1e-7", "x", "", "ivo://nope", "\u00e9", "%", "1" * 30]
)  # fmt: skip
_values = st.lists(_words, min_size=0, max_size=8).map(" ".join)
_names = st.sampled_from(
    ["POS", "BAND", "TIME", "FOV", "SPATRES", "EXPTIME", "CALIB", "MAXREC", "ID", "DPTYPE",
     "RESPONSEFORMAT", "CIRCLE", "POLYGON", "TARGET", "FACILITY", "COLLECTION", "POL",
     "TIMERES", "SPECRP", "EXPIRES", "SIGNATURE"]
)  # fmt: skip


@pytest.mark.slow
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(params=st.lists(st.tuples(_names, _values), max_size=5),
       path=st.sampled_from(["/vo/sia2", "/vo/links", "/vo/soda"]))  # fmt: skip
def test_item_38_fuzzing_never_fails(archive: Any, client: Client, params: Any, path: str) -> None:
    query: dict[str, list[str]] = {}
    for name, value in params:
        query.setdefault(name, []).append(value)
    if path == "/vo/soda" and "ID" not in query and params:
        query["ID"] = [did(RAW)]
    response = client.get(path, query)
    allowed = {
        "/vo/sia2": {200, 400},
        "/vo/links": {200, 400},
        "/vo/soda": {200, 204, 400, 401, 404},
    }
    assert response.status_code in allowed[path], (query, body(response)[:300])
    body(response)


def test_item_39_urls_follow_the_request_host(archive: Any, client: Client, settings: Any) -> None:
    settings.USE_X_FORWARDED_HOST = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    headers = {"HTTP_X_FORWARDED_HOST": "archive.example.org", "HTTP_X_FORWARDED_PROTO": "https"}
    base = "https://archive.example.org/vo/"
    capabilities = client.get("/vo/capabilities", **headers).content.decode()
    assert capabilities.count("<accessURL") == capabilities.count(f">{base}") == 5
    document = votable(client.get("/vo/sia2", {"POS": "CIRCLE 10.68 41.27 0.01"}, **headers))
    access = [
        p.value for r in document.resources if r.type == "meta" for p in r.params
        if p.name == "accessURL"
    ]  # fmt: skip
    assert len(access) == 3 and all(a.startswith(base) for a in access)
    links = votable(client.get("/vo/links", {"ID": did(RAW)}, **headers))
    descriptor_urls = [
        p.value for r in links.resources if r.type == "meta" for p in r.params
        if p.name == "accessURL"
    ]  # fmt: skip
    assert descriptor_urls and all(a.startswith(base + "soda") for a in descriptor_urls)
    # File URLs come from the store: absolute, on its configured public base URL.
    assert all(
        r["access_url"].startswith("http://testserver/download/")
        for r in table_rows(links)
        if r["access_url"]
    )


@pytest.mark.slow
def test_item_40_large_responses(
    db: Any, vo_archive: Any, client: Client, tmp_path: Any, django_assert_max_num_queries: Any
) -> None:
    from obsarchive.server.frames.models import Frame, Version

    archived = vo_archive.add(RAW)
    template = archived.frame
    frames = [
        Frame(
            basename=f"cpt1m010-fa14-20150301-{n:04d}-e00", area=template.area,
            observation_date=template.observation_date + timedelta(seconds=n),
            public_date=template.public_date, proposal_id="LCO2015A-001",
            instrument_id="fa14", site_id="cpt", telescope_id="1m0a", target_name="Many",
            exposure_time=30.0, primary_optical_element="rp", configuration_type="EXPOSE",
        )
        for n in range(1, 1000)
    ]  # fmt: skip
    Frame.objects.bulk_create(frames)
    created = Frame.objects.filter(target_name="Many")
    Version.objects.bulk_create(
        Version(frame=f, key=f"v{f.pk}", md5=f"{f.pk:032x}", extension=".fits", size=1000)
        for f in created
    )
    with django_assert_max_num_queries(20):
        response = client.get("/vo/sia2", {"MAXREC": "1000"})
        assert response.streaming
        data = body(response)
    document = votable(data)
    assert len(table_rows(document)) == 1000
    saved = tmp_path / "sia-1000.xml"
    saved.write_bytes(data)
    report = run_stilts("votlint", f"votable={saved}")
    assert "ERROR" not in report and "WARNING" not in report, report
    ids = [did(f.basename) for f in created[:99]] + [did(RAW)]
    links = client.post("/vo/links", **form({"ID": ids}))
    assert len({r["ID"] for r in links_rows(links)}) == 100
    saved_links = tmp_path / "links-100.xml"
    saved_links.write_bytes(body(links))
    report = run_stilts("datalinklint", f"votable={saved_links}")
    assert "Errors: 0; Warnings: 0" in report, report
