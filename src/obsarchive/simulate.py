"""A night of a small observatory network, as synthetic LCO-like products on disk.

``obsarchive simulate`` (and ``obsarchive up`` on its first run) writes what a few telescopes
produce in one night: calibrations at dusk (bias, dark, sky flats) and the pipeline's master
calibrations made from them, raw science frames, their processed versions (``e91``, linked to
the master calibrations through ``L1ID*`` headers) and source catalogues (``_cat``). Headers
follow the real LCO products (DATE-OBS, DAY-OBS as the local night, PROPID, SITEID, TELID,
INSTRUME, OBSTYPE, BLKUID, REQNUM, RLEVEL, a TAN WCS); images are small star fields. Some
science uses an education proposal (public at once, as are calibrations), the rest a
proprietary one, so an anonymous visitor sees part of the night.

Every file is written under a hidden temporary name and renamed into place, so a watcher
never sees a partial product. Output is deterministic for a given night and seed.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_NETWORK", "Telescope", "plan_night", "simulate_night"]


@dataclass(frozen=True)
class Telescope:
    """One telescope of the simulated network."""

    site_id: str
    telescope_id: str
    instrument_id: str
    #: UTC hour at which the local night starts (about 19:00 local time).
    dusk_utc_hour: float
    enclosure: str = "doma"


DEFAULT_NETWORK: tuple[Telescope, ...] = (
    Telescope("cpt", "1m0a", "fa14", dusk_utc_hour=17.0),  # Sutherland, UTC+2
    Telescope("coj", "1m0a", "fa19", dusk_utc_hour=9.0),  # Siding Spring, UTC+10
    Telescope("lsc", "1m0a", "fa15", dusk_utc_hour=23.0),  # Cerro Tololo, UTC-4
    Telescope("ogg", "0m4b", "sq34", dusk_utc_hour=5.0, enclosure="clma"),  # Haleakala, UTC-10
)

# Targets observed during the simulated night: (name, RA deg, Dec deg).
_TARGETS: tuple[tuple[str, float, float], ...] = (
    ("M42", 83.822, -5.391),
    ("NGC 2997", 146.412, -31.191),
    ("M83", 204.254, -29.866),
    ("NGC 253", 11.888, -25.288),
    ("M104", 189.998, -11.623),
    ("NGC 5128", 201.365, -43.019),
    ("SN 2026abc", 150.120, 2.210),
    ("Omega Cen", 201.697, -47.480),
)
_FILTERS = ("rp", "gp", "ip", "V", "B")
_PUBLIC_PROPOSAL = "LCOEPO2026A-001"  # "EPO": public as soon as observed
_PRIVATE_PROPOSAL = "LCO2026A-017"  # proprietary for DAYS_UNTIL_PUBLIC
_CALIBRATION_PROPOSAL = "calibrate"


@dataclass(frozen=True)
class _Product:
    """One file to write: which writer and with what arguments."""

    name: str
    kind: str  # "image" or "catalogue"
    arguments: dict[str, Any]


def plan_night(
    night: dt.date,
    *,
    telescopes: Sequence[Telescope] = DEFAULT_NETWORK,
    science_frames: int = 4,
    seed: int = 0,
    shape: tuple[int, int] = (64, 64),
) -> list[_Product]:
    """The products of one night, in the order a network would write them (by time)."""
    rng = random.Random(f"{night.isoformat()}-{seed}")
    planned: list[tuple[dt.datetime, _Product]] = []
    for scope in telescopes:
        planned.extend(_plan_telescope(scope, night, rng, science_frames, shape))
    planned.sort(key=lambda item: (item[0], item[1].name))
    return [product for _, product in planned]


def _plan_telescope(
    scope: Telescope,
    night: dt.date,
    rng: random.Random,
    science_frames: int,
    shape: tuple[int, int],
) -> list[tuple[dt.datetime, _Product]]:
    """One telescope's night: dusk calibrations, masters, then science (time-stamped)."""
    planned: list[tuple[dt.datetime, _Product]] = []
    day_obs = night.strftime("%Y%m%d")
    dusk = dt.datetime.combine(night, dt.time(), tzinfo=dt.UTC) + dt.timedelta(
        hours=scope.dusk_utc_hour
    )
    common: dict[str, Any] = {
        "site_id": scope.site_id,
        "telescope_id": scope.telescope_id,
        "instrument_id": scope.instrument_id,
        "day_obs": day_obs,
        "shape": shape,
        "compressed": True,
        "extra_headers": {"ENCID": scope.enclosure},
    }
    number = 0
    filters = rng.sample(_FILTERS, 2)
    instrument_day = f"{scope.instrument_id}_{day_obs}"

    def image(when: dt.datetime, name: str | None = None, **arguments: Any) -> str:
        nonlocal number
        arguments = {**common, **arguments}
        arguments.setdefault("seed", rng.randrange(2**31))
        if "frame_number" not in arguments:
            number += 1
            arguments["frame_number"] = number
        arguments["date_obs"] = when
        name = name or _basename(scope, day_obs, arguments["frame_number"], arguments)
        planned.append((when, _Product(name + ".fits.fz", "image", arguments)))
        return name

    calibration: dict[str, Any] = {
        "proposal_id": _CALIBRATION_PROPOSAL,
        "n_stars": 0,
        "observation_id": str(rng.randrange(10**8)),
    }
    # Dusk calibrations: biases, a dark, twilight flats in the night's filters.
    when = dusk - dt.timedelta(minutes=40)
    for _ in range(2):
        image(when, obstype="BIAS", exptime=0.0, object_name="N/A", rlevel=0, **calibration)
        when += dt.timedelta(minutes=1)
    image(when, obstype="DARK", exptime=300.0, object_name="N/A", rlevel=0, **calibration)
    when = dusk - dt.timedelta(minutes=10)
    for flat_filter in filters:
        image(when, obstype="SKYFLAT", exptime=12.0, filter=flat_filter, object_name="Flat",
              rlevel=0, **calibration)  # fmt: skip
        when += dt.timedelta(minutes=3)
    # The pipeline's master calibrations (named as BANZAI names them, no RLEVEL card),
    # which processed frames point at through L1IDBIAS / L1IDDARK / L1IDFLAT.
    when = dusk
    masters = {"frame_number": 0, "rlevel": None, **calibration}
    image(when, f"bias_{instrument_day}_bin1x1", obstype="BIAS", exptime=0.0,
          object_name="Output from MAKEBIAS", **masters)  # fmt: skip
    image(when, f"dark_{instrument_day}_bin1x1", obstype="DARK", exptime=300.0,
          object_name="Output from MAKEDARK", **masters)  # fmt: skip
    for flat_filter in filters:
        image(when, f"flat_{instrument_day}_SKYFLAT_bin1x1_{flat_filter}",
              obstype="SKYFLAT", exptime=12.0, filter=flat_filter, object_name="Flat field",
              **masters)  # fmt: skip

    # Science: the raw frame (e00), its processed version (e91, same frame number) and
    # the processed frame's source catalogue (e91_cat).
    when = dusk + dt.timedelta(minutes=20)
    for i in range(science_frames):
        target, ra, dec = rng.choice(_TARGETS)
        science: dict[str, Any] = {
            "obstype": "EXPOSE",
            "exptime": rng.choice((30.0, 60.0, 120.0, 300.0)),
            "filter": filters[i % len(filters)],
            "proposal_id": _PUBLIC_PROPOSAL if i % 2 == 0 else _PRIVATE_PROPOSAL,
            "object_name": target,
            "ra_deg": ra + rng.uniform(-0.05, 0.05),
            "dec_deg": dec + rng.uniform(-0.05, 0.05),
            "request_id": f"{rng.randrange(10**9):010d}",
            "observation_id": str(rng.randrange(10**8)),
        }
        stars = rng.randrange(15, 40)
        image(when, rlevel=0, n_stars=stars, **science)
        processed_when = when + dt.timedelta(minutes=8)
        processed = image(processed_when, rlevel=91, n_stars=stars, frame_number=number, **science)
        catalogue = {
            **{k: v for k, v in common.items() if k not in ("compressed", "shape")},
            **science,
            "basename": processed + "_cat",
            "date_obs": when,
            "rlevel": 91,
            "seed": rng.randrange(2**31),
            "related": {"L1IDCAT": processed},
        }
        planned.append(
            (
                processed_when + dt.timedelta(seconds=30),
                _Product(processed + "_cat.fits.fz", "catalogue", catalogue),
            )
        )
        when += dt.timedelta(minutes=rng.randrange(15, 45))
    return planned


def _basename(scope: Telescope, day_obs: str, number: int, arguments: dict[str, Any]) -> str:
    from obsarchive.products.synthetic import frame_basename

    return frame_basename(
        scope.site_id,
        scope.telescope_id,
        scope.instrument_id,
        day_obs,
        number,
        str(arguments.get("obstype", "EXPOSE")),
        int(arguments.get("rlevel") or 0),
    )


def _write(product: _Product, path: Path) -> None:
    from obsarchive.products.synthetic import write_catalogue, write_fits

    if product.kind == "catalogue":
        write_catalogue(path, **product.arguments)
    else:
        write_fits(path, basename=product.name.removesuffix(".fits.fz"), **product.arguments)


def simulate_night(
    directory: str | os.PathLike[str],
    *,
    night: dt.date,
    telescopes: Sequence[Telescope] = DEFAULT_NETWORK,
    science_frames: int = 4,
    seed: int = 0,
    interval: float = 0.0,
) -> Iterator[Path]:
    """Write one night of products into ``directory``; yield each file once it is in place.

    Parameters
    ----------
    directory
        Destination folder (created if needed); typically a watched ``incoming`` folder.
    night
        The local night (DAY-OBS).
    telescopes
        The network (default: four LCO-like sites).
    science_frames
        Science exposures per telescope (each gives a raw frame, a processed frame and a
        catalogue).
    seed
        Varies targets, filters and pixels; the same night and seed give the same bytes.
    interval
        Seconds to wait between files (a live night rather than a burst).
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for index, product in enumerate(
        plan_night(night, telescopes=telescopes, science_frames=science_frames, seed=seed)
    ):
        if index and interval:
            time.sleep(interval)
        final = folder / product.name
        partial = folder / f".{product.name}.part"
        _write(product, partial)
        partial.replace(final)  # atomic: the watcher sees all of it or nothing
        yield final
