"""pyvo against a running archive (``obsarchive serve``, SQLite and PostgreSQL, S3 over HTTP).

The product is ingested by the ingester over HTTP; pyvo then finds it with SIA, downloads it,
reads its DataLinks and cuts it out -- the proprietary case, where pyvo's own session carries
the token for the search but SODA must rely on the signed descriptor pyvo was handed.
"""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
import requests
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.wcs import WCS

from obsarchive.ingester import upload_file_and_ingest_to_archive
from tests.server.test_vo_helpers import datalink_vocabulary  # noqa: F401 - fixture used below

pytestmark = [
    pytest.mark.s3,
    pytest.mark.usefixtures("aws_credentials", "datalink_vocabulary"),
    pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning"),
]


def test_pyvo_finds_downloads_and_cuts_out_a_proprietary_frame(live_archive) -> None:
    import pyvo

    from obsarchive.products.synthetic import write_fits

    token = uuid.uuid4().hex[:12]
    # A place of its own: the archive is shared by every test of the session.
    ra = 100.0 + int(token[:6], 16) % 10_000 / 100.0
    dec = -60.0 + int(token[6:10], 16) % 1000 / 100.0
    buffer = io.BytesIO()
    write_fits(
        buffer, ra_deg=ra, dec_deg=dec, object_name=f"vo {token}", rlevel=91, compressed=True,
        shape=(200, 200), frame_number=int(token[:4], 16) % 9000 + 1,
        public_date="2099-01-01T00:00:00",
    )  # fmt: skip
    data = buffer.getvalue()
    buffer.name = f"cpt1m001-fa14-20260115-0001-e91-{token}.fits.fz"
    response = upload_file_and_ingest_to_archive(buffer, settings=live_archive.settings())
    assert response["frameid"]

    base = live_archive.api_root + "vo"
    assert len(pyvo.dal.SIA2Service(base).search(pos=(ra, dec, 0.01))) == 0  # anonymous
    session = requests.Session()
    session.headers["Authorization"] = f"Token {live_archive.token}"
    service = pyvo.dal.SIA2Service(base, session=session)
    assert service.query_ep == base + "/sia2"
    result = service.search(pos=(ra, dec, 0.01))
    assert len(result) == 1
    record = result[0]
    assert record["target_name"] == f"vo {token}" and record["data_rights"] == "proprietary"
    assert hashlib.md5(record.getdataset().read()).hexdigest() == hashlib.md5(data).hexdigest()

    links = record.getdatalink()
    assert {link.semantics for link in links} >= {"#this", "#cutout"}

    # processed() does not send the session: the row's signature authorises the cutout.
    cutout = fits.open(io.BytesIO(record.processed(circle=(ra, dec, 0.002)).read()))
    image = next(h for h in cutout if h.data is not None)
    x, y = WCS(image.header).world_to_pixel(SkyCoord(ra, dec, unit="deg"))
    ny, nx = image.data.shape
    assert abs(x - (nx - 1) / 2) <= 0.5 and abs(y - (ny - 1) / 2) <= 0.5
    refused = requests.get(
        base + "/soda", {"ID": record.obs_publisher_did, "CIRCLE": f"{ra} {dec} 0.002"}, timeout=30
    )
    assert refused.status_code == 401 and refused.text.startswith("AuthenticationError")
