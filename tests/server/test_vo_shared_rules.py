"""The VO rules written once and shared: s_resolution, descriptor PARAMs, VOTable elements,
and the access preamble every DALI service runs first."""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
from astropy.io.votable import parse
from django.test import Client

from obsarchive.server.vo.obscore import spatial_resolution
from obsarchive.server.vo.votable import Field, Info, Param, service_params
from tests.server.test_vo_helpers import IVOID, RAW, body, query_status, votable


@pytest.mark.parametrize(
    ("fwhm", "pixscale", "expected"),
    [
        ("2.1", "0.389", 2.1),  # the measured seeing wins
        (None, "0.389", 0.389),  # no seeing: the pixel scale
        ("-1", 0.389, 0.389),  # a non-positive seeing is no measurement
        ("nan", "junk", None),
        (None, math.inf, None),
    ],
)
def test_spatial_resolution(fwhm: Any, pixscale: Any, expected: float | None) -> None:
    assert spatial_resolution(fwhm, pixscale) == expected


def test_service_params() -> None:
    without = service_params("https://a.example/sia", "ivo://std/SIA")
    assert [(p.name, p.value, p.ucd) for p in without] == [
        ("accessURL", "https://a.example/sia", "meta.ref.url"),
        ("standardID", "ivo://std/SIA", None),
    ]
    (*_, content) = service_params("u", "s", "application/fits")
    assert (content.name, content.value) == ("contentType", "application/fits")


def test_elements_close_only_when_empty() -> None:
    assert Field("n", "char", "*").xml() == '<FIELD name="n" datatype="char" arraysize="*"/>\n'
    described = Field("n", "double", unit="deg", id="x", description="a < b").xml()
    assert described == (
        '<FIELD name="n" ID="x" datatype="double" unit="deg">'
        "<DESCRIPTION>a &lt; b</DESCRIPTION></FIELD>\n"
    )
    assert (
        Param("P", value="v").xml() == '<PARAM name="P" datatype="char" arraysize="*" value="v"/>\n'
    )
    ranged = Param("M", "int", arraysize=None, ref="r", minimum="0", options=("1",)).xml()
    assert ranged == (
        '<PARAM name="M" datatype="int" ref="r" value="">'
        '<VALUES><MIN value="0"/><OPTION value="1"/></VALUES></PARAM>\n'
    )
    assert Info("QUERY_STATUS", "OK").xml() == '<INFO name="QUERY_STATUS" value="OK"/>\n'
    assert Info("QUERY_STATUS", "ERROR", "bad & worse").xml() == (
        '<INFO name="QUERY_STATUS" value="ERROR">bad &amp; worse</INFO>\n'
    )


def test_elements_make_a_valid_votable() -> None:
    head = (
        '<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
    )
    document = (
        head
        + '<RESOURCE type="results">'
        + Info("QUERY_STATUS", "OK").xml()
        + Param("P", value="v", description="d").xml()
        + "<TABLE>"
        + Field("n", "double", unit="deg", description="d").xml()
        + "<DATA><TABLEDATA><TR><TD>1.5</TD></TR></TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>"
    )
    table = parse(io.BytesIO(document.encode()), verify="exception").get_first_table()
    assert table.fields[0].description == "d" and float(table.array["n"][0]) == 1.5


@pytest.mark.django_db
def test_every_service_checks_method_then_caller(vo_archive: Any, client: Client) -> None:
    product = vo_archive.add(RAW)
    bad = {"Authorization": "Token not-a-token"}
    for path in ("/vo/sia2", "/vo/links", "/vo/soda"):
        assert client.delete(path, headers=bad).status_code == 405  # the method is checked first
    sia = client.get("/vo/sia2", headers=bad)
    assert sia.status_code == 401 and sia["WWW-Authenticate"]
    assert query_status(votable(sia))[0][0] == "ERROR"
    soda = client.get("/vo/soda", {"ID": product.did, "CIRCLE": "10.68 41.27 0.01"}, headers=bad)
    assert soda.status_code == 401 and body(soda).startswith(b"AuthenticationError")
    # POST parameters reach every service the same way as GET ones.
    links = client.post("/vo/links", {"ID": f"{IVOID}?{RAW}"})
    assert links.status_code == 200 and RAW.encode() in body(links)


@pytest.mark.django_db
def test_links_refuses_a_repeated_or_foreign_responseformat(
    vo_archive: Any, client: Client
) -> None:
    vo_archive.add(RAW)
    did = f"{IVOID}?{RAW}"
    for value in (["votable", "votable"], ["text/csv"]):
        response = client.get("/vo/links", {"ID": did, "RESPONSEFORMAT": value})
        assert response.status_code == 400
        status, text = query_status(votable(response))[0]
        assert status == "ERROR" and text.startswith("UsageFault: RESPONSEFORMAT")
