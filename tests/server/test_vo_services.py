"""VO behaviour beyond the checklist: real LCO products, authentication and throttling,
configuration switches, related-frame visibility and failure paths."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
from django.test import Client

from tests.conftest import require_shared_data
from tests.server.test_vo_helpers import (
    IVOID,
    RAW,
    REDUCED,
    body,
    configure,
    query_status,
    results,
    standard_archive,
    table_rows,
    votable,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning"),
]


def rows(response: Any) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, body(response)[:300]
    return {row["basename"]: row for row in table_rows(votable(response))}


def ingest_real(archive: Any, name: str, *, public: bool = True) -> Any:
    """Ingest a real LCO product from ../shared/data the way VoArchive ingests synthetic ones."""
    from obsarchive.products import open_product
    from obsarchive.products.record import Version
    from obsarchive.server.frames.serializers import FrameIngestSerializer
    from obsarchive.server.frames.services import ingest_frame
    from tests.server.test_vo_helpers import FUTURE, PUBLIC

    data = (require_shared_data() / "fits" / name).read_bytes()
    product = open_product(io.BytesIO(data), name=name)
    record = dataclasses.replace(
        product.record(),
        public_date=(PUBLIC if public else FUTURE).replace(tzinfo=None).isoformat(),
    )
    stored = archive.store.put(product.storage_key, io.BytesIO(data))
    payload = record.to_payload([Version(stored.version_id, stored.md5, product.extension)])
    payload["version_set"][0].update(object_key=stored.key, size=len(data))
    serializer = FrameIngestSerializer(data=payload)
    assert serializer.is_valid(), serializer.errors
    return ingest_frame(serializer.validated_data).frame


def test_real_lco_products_through_sia_and_soda(vo_archive: Any, client: Client) -> None:
    reduced = ingest_real(vo_archive, "coj1m011-kb05-20150219-0125-e90.fits.fz")
    ingest_real(vo_archive, "cpt1m012-fl10-20151216-0073-e00.fits.fz")
    ingest_real(vo_archive, "cpt1m010-kb70-20151219-0073-e10_cat.fits.fz")
    found = rows(client.get("/vo/sia2"))
    # The catalogue is not an image; the raw Sinistro frame (NAXIS3 = 1) has no archived
    # footprint but is still an image row.
    assert set(found) == {reduced.basename, "cpt1m012-fl10-20151216-0073-e00"}
    row = found[reduced.basename]
    assert row["s_resolution"] == pytest.approx(3.933)  # L1FWHM
    assert row["s_pixel_scale"] == pytest.approx(0.467)  # PIXSCALE
    assert (row["s_xel1"], row["s_xel2"]) == (2027, 5)
    assert row["em_min"] == pytest.approx(4.8e-7) and row["calib_level"] == 2
    assert row["obs_id"] == "coj1m011-kb05-20150219-0125" and row["filter"] == "V"
    raw = found["cpt1m012-fl10-20151216-0073-e00"]
    assert not raw["s_region"] and raw["s_ra"] is None and raw["calib_level"] == 1
    assert rows(client.get("/vo/sia2", {"POS": "CIRCLE 0 -90 180"})).keys() == {reduced.basename}
    circle = f"{row['s_ra']} {row['s_dec']} 0.0005"
    response = client.get("/vo/soda", {"ID": row["obs_publisher_did"], "CIRCLE": circle})
    assert response.status_code == 200 and body(response)[:6] == b"SIMPLE"


def test_dali_regions(vo_archive: Any, client: Client, settings: Any) -> None:
    configure(settings, vo_archive.root, vo_archive.base_url, region_format="dali")
    vo_archive.add(RAW)
    document = votable(client.get("/vo/sia2"))
    field = next(f for f in results(document).tables[0].fields if f.name == "s_region")
    assert (field.datatype, field.arraysize, field.xtype) == ("double", "*", "polygon")
    (row,) = table_rows(document)
    assert len(row["s_region"]) == 8


def test_bad_credentials_and_throttling(vo_archive: Any, client: Client, settings: Any) -> None:
    response = client.get("/vo/sia2", HTTP_AUTHORIZATION="Token wrong")
    assert response.status_code == 401 and response["WWW-Authenticate"]
    assert query_status(votable(response))[0][0] == "ERROR"
    assert client.get("/vo/links", HTTP_AUTHORIZATION="Token wrong").status_code == 401
    soda = client.get("/vo/soda", {"ID": "x"}, HTTP_AUTHORIZATION="Token wrong")
    assert soda.status_code == 401 and body(soda).startswith(b"AuthenticationError")

    settings.OBSARCHIVE_ACCOUNTS = dataclasses.replace(
        settings.OBSARCHIVE_ACCOUNTS, throttle_anon_rate="2/day", throttle_user_rate="2/day"
    )
    assert client.get("/vo/sia2").status_code == 200
    assert client.get("/vo/links").status_code == 200
    throttled = client.get("/vo/sia2")
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    text = query_status(votable(throttled))[0][1]
    assert text.startswith("TransientFault")
    soda = client.get("/vo/soda", {"ID": "x"})
    assert soda.status_code == 429 and body(soda).startswith(b"ServiceUnavailable")
    # VOSI is never throttled: clients must always be able to discover the services.
    assert client.get("/vo/capabilities").status_code == 200


def test_related_frames_follow_visibility(vo_archive: Any, client: Client, world: Any) -> None:
    from obsarchive.server.accounts.services import token_for

    vo_archive.add(
        "bpm-kb05_bin1x1", rlevel=91, obstype="EXPERIMENTAL", public=False, proposal="PROP-A"
    )
    vo_archive.add(REDUCED, rlevel=91, compressed=True)
    anonymous = table_rows(votable(client.get("/vo/links", {"ID": f"{IVOID}?{REDUCED}"})))
    assert "#calibration" not in {r["semantics"] for r in anonymous}
    header = {"HTTP_AUTHORIZATION": f"Token {token_for(world.member).key}"}
    member = table_rows(votable(client.get("/vo/links", {"ID": f"{IVOID}?{REDUCED}"}, **header)))
    (mask,) = [r for r in member if r["semantics"] == "#calibration"]
    assert mask["description"].startswith("Bad-pixel mask") and "bpm-kb05" in mask["description"]


def test_methods_index_and_missing_files(vo_archive: Any, client: Client) -> None:
    for path in ("/vo/sia2", "/vo/links", "/vo/soda", "/vo/capabilities"):
        assert client.put(path).status_code == 405
    index = client.get("/vo/")
    assert index.status_code == 200 and b"/vo/sia2" in index.content
    assert client.get("/vo/sia2/").status_code == 200  # both path forms, never a redirect
    product = vo_archive.add(RAW)
    vo_archive.store.delete(product.frame.version_set.get().object_key)
    response = client.get("/vo/soda", {"ID": product.did, "CIRCLE": "10.68 41.27 0.001"})
    assert response.status_code == 404 and body(response).startswith(b"Error")


def test_vo_responses_are_private(vo_archive: Any, client: Client) -> None:
    standard_archive(vo_archive)
    for path, params in (("/vo/sia2", {}), ("/vo/links", {"ID": f"{IVOID}?{RAW}"})):
        response = client.get(path, params)
        assert "Authorization" in response["Vary"] and "no-store" in response["Cache-Control"]
