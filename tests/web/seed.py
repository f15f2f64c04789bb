"""A small synthetic archive for the web-interface tests.

Products are written by :mod:`obsarchive.products.synthetic` (fpacked FITS with a TAN WCS) and
ingested through the real ingester pipeline into a running archive: the file goes to the
archive's store and the record to ``POST /frames/`` (the frames ingest service), and the
ingester's previews to ``POST /thumbnails/``. Nothing here talks to the database directly.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from obsarchive.products.synthetic import frame_basename, write_fits

__all__ = ["PUBLIC_PROPOSAL", "SECRET_PROPOSAL", "Spec", "seed_specs"]

PUBLIC_PROPOSAL = "LCO2025A-001"
SECRET_PROPOSAL = "LCO2026B-777"
CALIBRATION_PROPOSAL = "calibrate"
PAST = "2026-01-01T00:00:00"
FUTURE = "2099-01-01T00:00:00"
# About an LCO 1-m field (26'): 64 pixels of 24".
PIXEL_SCALE = 24.0
M31 = (10.684583, 41.269167)


@dataclass(frozen=True)
class Spec:
    """One synthetic product: ``key`` names it in tests."""

    key: str
    basename: str
    date: dt.datetime
    ra: float
    dec: float
    object_name: str
    proposal: str = PUBLIC_PROPOSAL
    public_date: str = PAST
    site: str = "cpt"
    telescope: str = "1m0a"
    instrument: str = "fa14"
    filter: str = "rp"
    obstype: str = "EXPOSE"
    rlevel: int = 0
    exptime: float = 30.0
    request_id: str = "0001000000"
    observation_id: str = "0002000000"
    previews: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def filename(self) -> str:
        return self.basename + ".fits.fz"

    def fits_bytes(self, seed: int) -> io.BytesIO:
        buffer = io.BytesIO()
        write_fits(
            buffer,
            basename=self.basename,
            site_id=self.site,
            telescope_id=self.telescope,
            instrument_id=self.instrument,
            obstype=self.obstype,
            proposal_id=self.proposal,
            date_obs=self.date,
            exptime=self.exptime,
            filter=self.filter,
            object_name=self.object_name,
            ra_deg=self.ra,
            dec_deg=self.dec,
            rlevel=self.rlevel,
            compressed=True,
            request_id=self.request_id,
            observation_id=self.observation_id,
            public_date=self.public_date,
            pixel_scale_arcsec=PIXEL_SCALE,
            seed=seed,
        )
        buffer.seek(0)
        buffer.name = self.filename
        return buffer


def _frame(key: str, number: int, date: dt.datetime, **fields: Any) -> Spec:
    site = fields.get("site", "cpt")
    telescope = fields.get("telescope", "1m0a")
    instrument = fields.get("instrument", "fa14")
    obstype = fields.get("obstype", "EXPOSE")
    rlevel = fields.get("rlevel", 0)
    basename = frame_basename(
        site, telescope, instrument, date.strftime("%Y%m%d"), number, obstype, rlevel
    )
    return Spec(key=key, basename=basename, date=date, **fields)


def seed_specs() -> list[Spec]:
    """The products of the test archive (42 frames), in ingest order."""
    specs: list[Spec] = []
    sites = [
        ("cpt", "1m0a", "fa14"),
        ("lsc", "1m0a", "fa16"),
        ("ogg", "2m0a", "ep02"),
        ("coj", "1m0a", "fa19"),
    ]
    filters = ["rp", "V", "B", "ip"]
    # A deep field observed nightly in January: enough rows for two pages of 20.
    for i in range(26):
        site, telescope, instrument = sites[i % 4]
        specs.append(
            _frame(
                f"cosmos-{i}",
                100 + i,
                dt.datetime(2026, 1, 1 + i, 3, 0, tzinfo=dt.UTC),
                ra=150.10 + 0.01 * (i % 5),
                dec=2.20 + 0.01 * (i % 3),
                object_name="COSMOS",
                site=site,
                telescope=telescope,
                instrument=instrument,
                filter=filters[i % 4],
                exptime=30.0 + 10 * (i % 7),
                request_id=f"{1000 + i:010d}",
                observation_id=f"{5000 + i // 2:010d}",
                previews=(i != 3),  # one frame without previews
            )
        )
    for i in range(3):
        specs.append(
            _frame(
                f"m31-{i}",
                200 + i,
                dt.datetime(2026, 2, 1 + i, 4, 0, tzinfo=dt.UTC),
                ra=M31[0] + 0.002 * i,
                dec=M31[1],
                object_name="M31 core",
                site="ogg",
                telescope="2m0a",
                instrument="ep02",
                filter="V",
                request_id="0000003100",
            )
        )
    specs.append(
        _frame(
            "m31-far",
            210,
            dt.datetime(2026, 2, 4, 4, 0, tzinfo=dt.UTC),
            ra=M31[0],
            dec=M31[1] + 1.0,
            object_name="M31 outskirts",
            site="ogg",
            telescope="2m0a",
            instrument="ep02",
            filter="V",
        )
    )
    specs.append(
        _frame(
            "wrap-east",
            300,
            dt.datetime(2026, 2, 10, 2, 0, tzinfo=dt.UTC),
            ra=359.95,
            dec=0.0,
            object_name="Wrap field",
        )
    )
    specs.append(
        _frame(
            "wrap-west",
            301,
            dt.datetime(2026, 2, 10, 2, 5, tzinfo=dt.UTC),
            ra=0.05,
            dec=0.0,
            object_name="Wrap field",
        )
    )
    specs.append(
        _frame(
            "polar",
            310,
            dt.datetime(2026, 2, 12, 5, 0, tzinfo=dt.UTC),
            ra=45.0,
            dec=89.9,
            object_name="Polar field",
            site="lsc",
            instrument="fa16",
        )
    )
    # Calibrations of 2026-01-05 and a processed frame that names them (L1IDBIAS, L1IDFLAT).
    calibration_day = dt.datetime(2026, 1, 5, 20, 0, tzinfo=dt.UTC)
    specs.append(
        Spec(
            key="bias",
            basename="bias_fa14_20260105_bin1x1",
            date=calibration_day,
            ra=150.0,
            dec=2.0,
            object_name="N/A",
            proposal=CALIBRATION_PROPOSAL,
            obstype="BIAS",
            rlevel=91,
            exptime=0.0,
        )
    )
    specs.append(
        Spec(
            key="flat",
            basename="flat_fa14_20260105_SKYFLAT_bin1x1_rp",
            date=calibration_day,
            ra=150.0,
            dec=2.0,
            object_name="N/A",
            proposal=CALIBRATION_PROPOSAL,
            obstype="SKYFLAT",
            rlevel=91,
        )
    )
    specs.append(
        _frame(
            "processed",
            150,
            dt.datetime(2026, 1, 5, 3, 30, tzinfo=dt.UTC),
            ra=150.12,
            dec=2.21,
            object_name="COSMOS",
            rlevel=91,
            exptime=120.0,
        )
    )
    # Proprietary frames of a proposal only alice belongs to; their site, instrument, filter
    # and object appear nowhere else, so any leak is visible.
    for i in range(6):
        specs.append(
            _frame(
                f"secret-{i}",
                400 + i,
                dt.datetime(2026, 1, 20 + i, 6, 0, tzinfo=dt.UTC),
                ra=200.0 + 0.01 * i,
                dec=-30.0,
                object_name="Secret target",
                proposal=SECRET_PROPOSAL,
                public_date=FUTURE,
                site="tfn",
                telescope="0m4a",
                instrument="sq99",
                filter="zs",
                exptime=60.0,
            )
        )
    return specs
