"""Unit tests of the VO building blocks: names, filters, settings, parameters, ObsCore rules,
the VOTable writer, batched footprints and the cutout engine (real LCO products included)."""

from __future__ import annotations

import io
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.io.votable import parse as parse_votable
from astropy.nddata import Cutout2D
from astropy.wcs import WCS
from django.db.models import Q
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from obsarchive import sky
from obsarchive.config import ConfigurationError
from obsarchive.server.vo.bandpasses import FilterTableError, load_bandpasses
from obsarchive.server.vo.config import VoSettings, load_vo_settings
from obsarchive.server.vo.cutout import CutoutError, NoImageError, plan_cutout
from obsarchive.server.vo.footprints import spatial_columns
from obsarchive.server.vo.naming import NameTemplate, TemplateError
from obsarchive.server.vo.obscore import (
    FrameFacts,
    basename_from_did,
    calib_level,
    calib_level_q,
    dataproduct_type,
    obs_id,
    publisher_did,
)
from obsarchive.server.vo.params import (
    MultipleValuesError,
    ParameterError,
    VoParams,
    parse_interval,
    parse_maxrec,
    response_format,
)
from obsarchive.server.vo.soda import SodaError, SodaRequest, overlaps_filters, parse_soda
from obsarchive.server.vo.votable import Field, Info, error_document, results_document
from tests.conftest import require_shared_data

pytestmark = pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")

# -- names ----------------------------------------------------------------------------------


def test_template_renders_and_inverts_exactly() -> None:
    template = NameTemplate("LCO {telescope_id} {site_id}")
    values = {"telescope_id": "1m0a", "site_id": "coj", "instrument_id": "kb05"}
    assert template.render(values) == "LCO 1m0a coj"
    assert template.invert("LCO 1m0a coj") == [{"telescope_id": "1m0a", "site_id": "coj"}]
    # A separator inside a value makes the name ambiguous: every reading is returned.
    assert template.invert("LCO a b c") == [
        {"telescope_id": "a", "site_id": "b c"},
        {"telescope_id": "a b", "site_id": "c"},
    ]
    assert template.invert("lco 1m0a coj") == []
    assert template.invert("LCO 1m0a") == []


def test_template_with_a_repeated_field_and_a_constant() -> None:
    twice = NameTemplate("{site_id}/{instrument_id}/{site_id}")
    assert twice.invert("ogg/fs02/ogg") == [{"site_id": "ogg", "instrument_id": "fs02"}]
    assert twice.invert("ogg/fs02/coj") == []
    constant = NameTemplate("LCO")
    assert constant.fields == ()
    assert constant.filter_q(["LCO"]) == Q()
    assert constant.filter_q(["LCOGT"]) == Q(pk__in=[])


@pytest.mark.parametrize("text", ["{nope}", "{site_id:>5}", "{site_id!r}", "{", "a}"])
def test_template_refuses_unknown_fields_and_formats(text: str) -> None:
    with pytest.raises(TemplateError):
        NameTemplate(text)


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    site=st.text(alphabet="ab -/", max_size=5),
    telescope=st.text(alphabet="ab -/", max_size=5),
)
def test_template_inversion_always_contains_the_truth(site: str, telescope: str) -> None:
    template = NameTemplate("LCO {telescope_id} {site_id}")
    values = {"site_id": site, "telescope_id": telescope}
    found = template.invert(template.render(values))
    assert values in found
    assert all(template.render(a) == template.render(values) for a in found)


# -- filters --------------------------------------------------------------------------------


def test_shipped_filter_table() -> None:
    table = load_bandpasses()
    assert table.bounds("V") == pytest.approx((480e-9, 730e-9))
    assert table.bounds("ip") == pytest.approx((645e-9, 860e-9))
    assert table.bounds("w") is None and table.bounds("BL") is None and table.bounds("") is None
    assert table.bounds("v") is None  # names are case-sensitive
    assert table.overlapping(700e-9, math.inf) == ["I", "R", "V", "Y", "ip", "rp", "zs"]
    assert table.overlapping(-math.inf, 2e-7) == []


def test_custom_filter_table(tmp_path: Path) -> None:
    path = tmp_path / "filters.csv"
    path.write_text("# comment\nname,em_min_nm,em_max_nm\nHa,650,662\n")
    table = load_bandpasses(path)
    assert len(table) == 1 and table.bounds("Ha") == pytest.approx((650e-9, 662e-9))


@pytest.mark.parametrize(
    "content",
    [
        "name,em_min_nm\nV,480\n",
        "name,em_min_nm,em_max_nm\nV,480,730\nV,480,730\n",
        "name,em_min_nm,em_max_nm\nV,-1,730\n",
        "name,em_min_nm,em_max_nm\nV,730,480\n",
        "name,em_min_nm,em_max_nm\nV,abc,480\n",
        "name,em_min_nm,em_max_nm\n,480,730\n",
    ],
)
def test_bad_filter_tables_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(FilterTableError):
        load_bandpasses(path)
    with pytest.raises(FilterTableError, match="cannot read"):
        load_bandpasses(tmp_path / "missing.csv")


# -- settings -------------------------------------------------------------------------------


def test_settings_defaults_and_values() -> None:
    defaults = load_vo_settings({})
    assert defaults == VoSettings()
    config = load_vo_settings(
        {
            "VO_IVOID": "ivo://lco.global/archive/",
            "VO_COLLECTION": "LCO",
            "VO_SPECTROGRAPHS": "en,nres",
            "VO_MAXREC_DEFAULT": "10",
            "VO_MAXREC_LIMIT": "20",
            "VO_S_REGION_FORMAT": "DALI",
            "VO_URL_EXPIRY_SECONDS": "600",
        }
    )
    assert config.ivoid == "ivo://lco.global/archive"
    assert config.spectrographs == ("en", "nres")
    assert (config.maxrec_default, config.maxrec_limit) == (10, 20)
    assert config.region_format == "dali" and config.url_expiry == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"VO_IVOID": "http://example.org/archive"}, "VO_IVOID"),
        ({"VO_IVOID": "ivo://example.org/archive?x"}, "VO_IVOID"),
        ({"VO_COLLECTION": "{proposal_id}"}, "VO_COLLECTION"),
        ({"VO_FACILITY_NAME": "{site_id:>3}"}, "VO_FACILITY_NAME"),
        ({"VO_MAXREC_DEFAULT": "20", "VO_MAXREC_LIMIT": "10"}, "VO_MAXREC_DEFAULT"),
        ({"VO_MAXREC_LIMIT": "0"}, "VO_MAXREC_LIMIT"),
        ({"VO_LINKS_MAX_IDS": "many"}, "VO_LINKS_MAX_IDS"),
        ({"VO_S_REGION_FORMAT": "wkt"}, "VO_S_REGION_FORMAT"),
        ({"VO_URL_EXPIRY_SECONDS": str(8 * 86400)}, "VO_URL_EXPIRY_SECONDS"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_vo_settings(environ)
    assert raised.value.variable == variable


def test_system_checks(settings: Any, tmp_path: Path) -> None:
    from obsarchive.server.vo.checks import check_vo_configuration

    settings.OBSARCHIVE_VO = VoSettings()
    assert check_vo_configuration() == []
    settings.OBSARCHIVE_VO = VoSettings(ivoid="http://wrong", filter_table=tmp_path / "none.csv")
    assert {problem.id for problem in check_vo_configuration()} == {
        "obsarchive.vo.E001",
        "obsarchive.vo.E002",
    }


# -- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 2", (1.0, 2.0)),
        ("5.5e-7", (5.5e-7, 5.5e-7)),
        ("-inf 4e-7", (-math.inf, 4e-7)),
        ("-Inf 4e-7", (-math.inf, 4e-7)),
        ("7e-7 +Inf", (7e-7, math.inf)),
        ("7e-7 inf", (7e-7, math.inf)),
        ("-INFINITY +infinity", (-math.inf, math.inf)),
        ("  3   3 ", (3.0, 3.0)),
        (".5 1.", (0.5, 1.0)),
    ],
)
def test_intervals(text: str, expected: tuple[float, float]) -> None:
    assert parse_interval(text, "BAND") == expected


@pytest.mark.parametrize("text", ["abc", "1 2 3", "2 1", "nan 1", "1_000", "inf", "0x10", "1e"])
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ParameterError, match="BAND"):
        parse_interval(text, "BAND")


def test_maxrec_and_formats() -> None:
    assert parse_maxrec(None, 100, 1000) == (100, False)
    assert parse_maxrec("0", 100, 1000) == (0, True)
    assert parse_maxrec("5000", 100, 1000) == (1000, True)
    for bad in ("-1", "1.5", "x", "99999999999999999999"):
        with pytest.raises(ParameterError):
            parse_maxrec(bad, 100, 1000)
    assert response_format(None) and response_format("VOTable")
    assert response_format("application/x-votable+xml;content=datalink")
    assert not response_format("text/csv")


def test_parameter_names_fold_to_upper_case_and_empty_values_drop() -> None:
    params = VoParams(
        [("pos", "CIRCLE 1 2 3"), ("Pos", "RANGE 1 2 3 4"), ("band", " "), ("X", "1")]
    )
    assert params.values("POS") == ["CIRCLE 1 2 3", "RANGE 1 2 3 4"]
    assert "band" not in params and "x" in params
    with pytest.raises(MultipleValuesError):
        params.single("pos")
    assert params.single("x") == "1" and params.single("nothing") is None


def test_post_parameters_join_the_query_string(rf: Any) -> None:
    request = rf.post("/vo/sia2?MAXREC=3", {"pos": "CIRCLE 1 2 3", "ID": ["a", "b"]})
    params = VoParams.from_request(request)
    assert params.values("MAXREC") == ["3"]
    assert params.values("ID") == ["a", "b"] and params.values("POS") == ["CIRCLE 1 2 3"]


# -- ObsCore rules --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("basename", "obstype", "instrument", "rlevel", "extension", "kind", "level", "observation"),
    [
        ("coj1m011-kb05-20150219-0125-e00", "EXPOSE", "kb05", 0, ".fits", "image", 1,
         "coj1m011-kb05-20150219-0125"),
        ("coj1m011-kb05-20150219-0125-e91", "EXPOSE", "kb05", 91, ".fits.fz", "image", 2,
         "coj1m011-kb05-20150219-0125"),
        # Upstream records plain .fits twins of reduced frames with RLEVEL 0: the suffix says.
        ("cpt1m010-kb70-20151219-0073-e10", "EXPOSE", "kb70", 0, ".fits", "image", 2,
         "cpt1m010-kb70-20151219-0073"),
        ("cpt1m010-kb70-20151219-0073-e10_cat", "CATALOG", "kb70", 10, ".fits.fz",
         "measurements", 3, "cpt1m010-kb70-20151219-0073"),
        ("cpt1m010-kb70-20151219-0073-e10_cat", "EXPOSE", "kb70", 0, ".fits", "measurements", 3,
         "cpt1m010-kb70-20151219-0073"),
        ("bias_kb70_20151221_bin2x2", "BIAS", "kb70", 0, ".fits", "image", 3,
         "bias_kb70_20151221_bin2x2"),
        ("coj2m002-en05-20150223-0004-e00", "SPECTRUM", "en05", 0, ".fits", "spectrum", 1,
         "coj2m002-en05-20150223-0004"),
        ("lscnrs01-fa09-20260115-0049-e91", "TARGET", "nres01", 91, ".tar.gz", "spectrum", 2,
         "lscnrs01-fa09-20260115-0049"),
        ("sqa0m801-kb35-20151216-0966-g00", "GUIDE", "kb35", 0, ".tar.gz", None, 1,
         "sqa0m801-kb35-20151216-0966"),
        ("cptnrs03-fa13-20150219-0001-e92-summary", "EXPOSE", "nres03", 92, ".pdf", None, 3,
         "cptnrs03-fa13-20150219-0001-e92-summary"),
    ],
)  # fmt: skip
def test_classification(
    basename: str, obstype: str, instrument: str, rlevel: int, extension: str,
    kind: str | None, level: int, observation: str,
) -> None:  # fmt: skip
    facts = FrameFacts(basename, obstype, instrument, rlevel, extension)
    assert dataproduct_type(facts, ("en", "nres", "floyds")) == kind
    assert calib_level(facts) == level
    assert obs_id(basename) == observation


@pytest.mark.django_db
def test_calib_level_filter_agrees_with_the_rule(ingest: Any) -> None:
    from obsarchive.server.frames.models import Frame
    from tests.server.factories import frame_payload

    cases = [
        ("coj1m011-kb05-20150219-0125-e00", "EXPOSE", 0),
        ("coj1m011-kb05-20150219-0125-e91", "EXPOSE", 91),
        ("cpt1m010-kb70-20151219-0073-e10", "EXPOSE", 0),
        ("cpt1m010-kb70-20151219-0073-e10_cat", "CATALOG", 10),
        ("bias_kb70_20151221_bin2x2", "BIAS", 0),
        ("odd-name-E00", "EXPOSE", 0),
        ("x-a00", "EXPOSE", 5),
    ]
    for basename, obstype, rlevel in cases:
        ingest(frame_payload(basename=basename, configuration_type=obstype, reduction_level=rlevel))
    for level in range(5):
        by_filter = set(
            Frame.objects.filter(calib_level_q(level)).values_list("basename", flat=True)
        )
        by_rule = {
            basename
            for basename, obstype, rlevel in cases
            if calib_level(FrameFacts(basename, obstype, "kb05", rlevel, ".fits")) == level
        }
        assert by_filter == by_rule, level


def test_publisher_dids() -> None:
    config = VoSettings(ivoid="ivo://example.org/archive")
    did = publisher_did(config, "coj1m011-kb05-20150219-0125-e00")
    assert did == "ivo://example.org/archive?coj1m011-kb05-20150219-0125-e00"
    assert basename_from_did(config, did) == "coj1m011-kb05-20150219-0125-e00"
    assert basename_from_did(config, did.upper()) == "COJ1M011-KB05-20150219-0125-E00"
    for bad in (
        "ivo://example.org/archive?",
        "ivo://example.org/other?x",
        "x",
        "",
        "ivo://example.org/archive?a\x00",
    ):
        assert basename_from_did(config, bad) is None


# -- VOTable writer -------------------------------------------------------------------------


def test_cells_are_escaped_and_nulls_are_empty() -> None:
    fields = [
        Field("text", "char", "*"),
        Field("number", "double"),
        Field("count", "long"),
        Field("flag", "boolean"),
        Field("polygon", "double", "*", xtype="polygon"),
    ]
    rows = [
        ['a<b & "c" \u00e9\u00e8 \x01', 1.5, 3, True, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]],
        [None, None, None, None, None],
        ["x", math.nan, 0, False, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]],
    ]
    document = "".join(results_document(fields, rows, trailing=[Info("QUERY_STATUS", "OVERFLOW")]))
    table = parse_votable(io.BytesIO(document.encode()), verify="exception").get_first_table()
    assert table.array["text"][0] == 'a<b & "c" ee ?'
    assert table.array["number"].mask.tolist() == [False, True, True]
    assert table.array["count"].mask.tolist() == [False, True, False]
    assert table.array["flag"][2] == False  # noqa: E712 - numpy bool
    assert "<TD></TD>" in document and "OVERFLOW" in document


def test_a_failure_while_streaming_still_gives_a_valid_document() -> None:
    def rows() -> Any:
        yield ["one"]
        raise RuntimeError("database went away")

    document = "".join(results_document([Field("a", "char", "*")], rows()))
    parsed = parse_votable(io.BytesIO(document.encode()), verify="exception")
    resource = parsed.resources[0]
    statuses = [(i.value, i.content) for i in resource.infos if i.name == "QUERY_STATUS"]
    assert statuses[-1][0] == "ERROR" and statuses[-1][1].startswith("FatalFault")
    assert len(parsed.get_first_table().array) == 1


def test_error_document() -> None:
    document = parse_votable(io.BytesIO(error_document("UsageFault: bad & <worse>").encode()),
                             verify="exception")  # fmt: skip
    info = document.resources[0].infos[0]
    assert (info.name, info.value, info.content) == (
        "QUERY_STATUS",
        "ERROR",
        "UsageFault: bad & <worse>",
    )


# -- batched footprints agree with obsarchive.sky -------------------------------------------


def _quad(
    ra: float, dec: float, width: float, height: float, angle: float, flip: bool
) -> dict[str, Any]:
    """A rotated rectangle on the tangent plane at (ra, dec), as GeoJSON."""
    corners = [(-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2),
               (-width / 2, height / 2)]  # fmt: skip
    if flip:
        corners.reverse()
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.cdelt = [1.0, 1.0]
    cos, sin = math.cos(angle), math.sin(angle)
    xs = [x * cos - y * sin for x, y in corners]
    ys = [x * sin + y * cos for x, y in corners]
    lon, lat = wcs.wcs_pix2world(xs, ys, 0)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _agree(area: dict[str, Any]) -> None:
    fast = spatial_columns([area])[0]
    exact = sky.obscore_footprint(sky.polygon_from_geojson(area, strict=False))
    assert fast is not None
    assert abs((fast.s_ra - exact.s_ra + 180) % 360 - 180) < 1e-8
    assert fast.s_dec == pytest.approx(exact.s_dec, abs=1e-8)
    assert fast.s_fov == pytest.approx(exact.s_fov, rel=1e-9)
    fast_region, exact_region = fast.stcs.split(), exact.s_region.split()
    assert fast_region[:2] == exact_region[:2] and len(fast_region) == len(exact_region)
    assert np.allclose(
        [float(v) for v in fast_region[2:]], [float(v) for v in exact_region[2:]], atol=1e-9
    )


@hypothesis_settings(max_examples=150, deadline=None)
@given(
    ra=st.floats(0, 360, exclude_max=True),
    dec=st.floats(-89.5, 89.5),
    width=st.floats(1e-3, 5),
    height=st.floats(1e-3, 5),
    angle=st.floats(0, 2 * math.pi),
    flip=st.booleans(),
)
def test_batched_footprints_match_sky(
    ra: float, dec: float, width: float, height: float, angle: float, flip: bool
) -> None:
    _agree(_quad(ra, dec, width, height, angle, flip))


def test_odd_footprints_take_the_exact_path() -> None:
    concave = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [2, 0], [1, 0.5], [2, 2], [0, 2], [0, 0]]],
    }
    collinear = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [2, 0], [0, 0]]]}
    circle = [[math.cos(t), math.sin(t)] for t in np.linspace(0, 2 * math.pi, 12)[:-1]]
    many = {"type": "Polygon", "coordinates": [[*circle, circle[0]]]}
    for area in (concave, many, _quad(0.0, 90.0, 0.01, 0.01, 0.3, False)):
        _agree(area)
    degenerate = spatial_columns([collinear])[0]
    assert degenerate is not None and degenerate.stcs.startswith("CIRCLE ICRS")
    assert spatial_columns([None, {}, {"type": "Point", "coordinates": [1, 2]}]) == [None] * 3


# -- cutouts --------------------------------------------------------------------------------


def _synthetic(**kwargs: Any) -> bytes:
    from obsarchive.products.synthetic import write_fits

    buffer = io.BytesIO()
    write_fits(buffer, **kwargs)
    return buffer.getvalue()


def _cut(data: bytes, region: Any) -> fits.HDUList | None:
    cutout = plan_cutout(io.BytesIO(data), region, label="test")
    if cutout is None:
        return None
    payload = b"".join(cutout.chunks())
    assert len(payload) == cutout.size and len(payload) % 2880 == 0
    return fits.open(io.BytesIO(payload))


def test_whole_image_when_no_region() -> None:
    data = _synthetic(shape=(40, 50), compressed=True, rlevel=91)
    hdus = _cut(data, None)
    assert hdus is not None
    assert np.array_equal(hdus[1].data, fits.open(io.BytesIO(data))[1].data)


def test_companion_images_without_wcs_are_cut_with_the_science_grid() -> None:
    science = fits.open(io.BytesIO(_synthetic(shape=(40, 50), rlevel=91)))[0]
    mask = np.arange(2000, dtype=np.uint8).reshape(40, 50)
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="x", format="E", array=[1.0])], name="CAT"
    )
    hdus = fits.HDUList([
        fits.PrimaryHDU(),
        fits.CompImageHDU(science.data, science.header, name="SCI"),
        table,
        fits.ImageHDU(mask, name="BPM"),
    ])  # fmt: skip
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    cut = _cut(buffer.getvalue(), sky.Circle(150.0, 2.0, 3 / 3600))
    assert cut is not None
    assert [h.name for h in cut] == ["PRIMARY", "SCI", "BPM"]
    x0 = round(science.header["CRPIX1"] - cut["SCI"].header["CRPIX1"])
    y0 = round(science.header["CRPIX2"] - cut["SCI"].header["CRPIX2"])
    height, width = cut["SCI"].data.shape
    assert (x0, y0) != (0, 0) and width < 50
    assert np.array_equal(cut["BPM"].data, mask[y0 : y0 + height, x0 : x0 + width])


def test_products_without_images_or_unreadable_are_errors() -> None:
    from obsarchive.products.synthetic import write_catalogue

    buffer = io.BytesIO()
    write_catalogue(buffer)
    with pytest.raises(NoImageError):
        plan_cutout(io.BytesIO(buffer.getvalue()), sky.Circle(150, 2, 0.01))
    with pytest.raises(NoImageError):
        plan_cutout(io.BytesIO(_synthetic(wcs=False)), sky.Circle(150, 2, 0.01))
    with pytest.raises(CutoutError):
        plan_cutout(io.BytesIO(b"SIMPLE  = not really fits" * 200), sky.Circle(150, 2, 0.01))
    assert _cut(_synthetic(), sky.Circle(330, -2, 1)) is None


@pytest.mark.parametrize(
    "name",
    [
        "cpt1m012-fl10-20151216-0073-e00.fits.fz",  # raw Sinistro: NAXIS3 = 1
        "coj1m011-kb05-20150219-0125-e90.fits.fz",
        "coj1m011-kb05-20150219-0125-e90.fits",
        "cpt1m010-kb70-20151219-0073-e10.fits.fz",
    ],
)
def test_cutouts_of_real_lco_products(name: str) -> None:
    path = require_shared_data() / "fits" / name
    data = path.read_bytes()
    source = next(h for h in fits.open(io.BytesIO(data)) if h.data is not None)
    wcs = WCS(source.header).celestial
    pixels = source.data if source.data.ndim == 2 else source.data[0]
    ny, nx = pixels.shape
    ra, dec = wcs.pixel_to_world_values(nx / 3, ny / 2)
    radius = 5 * source.header.get("PIXSCALE", 0.5) / 3600
    expected = Cutout2D(pixels, SkyCoord(ra, dec, unit="deg"), 2 * radius * u.deg, wcs, mode="trim")
    cut = _cut(data, sky.Circle(float(ra), float(dec), radius))
    assert cut is not None
    image = next(h for h in cut if h.data is not None)
    got = image.data if image.data.ndim == 2 else image.data[0]
    assert np.array_equal(got, expected.data)
    x, y = WCS(image.header).celestial.world_to_pixel(SkyCoord(ra, dec, unit="deg"))
    assert x == pytest.approx(expected.input_position_cutout[0], abs=1e-6)
    assert y == pytest.approx(expected.input_position_cutout[1], abs=1e-6)


# -- SODA parameters ------------------------------------------------------------------------


def test_soda_parameters() -> None:
    request = parse_soda(VoParams([("id", "x"), ("circle", "1 2 0.5"), ("band", "-inf 5e-7")]))
    assert request.id == "x" and isinstance(request.region, sky.Circle)
    assert request.band == (-math.inf, 5e-7)
    assert isinstance(
        parse_soda(VoParams([("ID", "x"), ("POS", "RANGE 1 2 3 4")])).region, sky.Range
    )
    with pytest.raises(SodaError, match=r"^MultiValuedParamNotSupported: BAND"):
        parse_soda(VoParams([("ID", "x"), ("BAND", "1 2"), ("BAND", "3 4")]))
    with pytest.raises(SodaError, match=r"^UsageError: TIME"):
        parse_soda(VoParams([("ID", "x"), ("TIME", "2 1")]))


def test_soda_filters_select_the_whole_image_or_nothing() -> None:
    row = {"em_min": 4.8e-7, "em_max": 7.3e-7, "t_min": 57000.0, "t_max": 57000.1}
    assert overlaps_filters(SodaRequest("x", None, band=(5e-7, 6e-7), time=(56999, 57000.05)), row)
    assert not overlaps_filters(SodaRequest("x", None, band=(8e-7, 9e-7)), row)
    assert not overlaps_filters(SodaRequest("x", None, time=(57001, 57002)), row)
    assert not overlaps_filters(SodaRequest("x", None, pol=("I",)), row)
    assert not overlaps_filters(SodaRequest("x", None, band=(1, 2)), {**row, "em_min": None})
