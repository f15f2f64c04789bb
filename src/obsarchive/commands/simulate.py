"""``obsarchive simulate``: write a night of synthetic LCO-like products into a folder."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

__all__ = ["add_arguments", "run"]


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from None


def _count(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 50:
        raise argparse.ArgumentTypeError("must be between 1 and 50")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--into", metavar="DIR", help="destination folder (default $OBSARCHIVE_HOME/incoming)"
    )
    parser.add_argument(
        "--night", type=_date, metavar="YYYY-MM-DD", help="the night (default: last night, UTC)"
    )
    parser.add_argument(
        "--telescopes", type=_count, default=4, metavar="N", help="telescopes (1-4, default 4)"
    )
    parser.add_argument(
        "--frames",
        type=_count,
        default=4,
        metavar="N",
        help="science exposures per telescope (default 4)",
    )
    parser.add_argument("--seed", type=int, default=0, help="vary targets and pixels")
    parser.add_argument(
        "--interval",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="pause between files, for a live-looking night (default 0)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from obsarchive.cli import EXIT_OK
    from obsarchive.config import load_settings
    from obsarchive.simulate import DEFAULT_NETWORK, simulate_night

    settings = load_settings()
    into = Path(args.into) if args.into else settings.home / "incoming"
    night = args.night or (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date()
    count = 0
    for path in simulate_night(
        into,
        night=night,
        telescopes=DEFAULT_NETWORK[: args.telescopes],
        science_frames=args.frames,
        seed=args.seed,
        interval=args.interval,
    ):
        count += 1
        print(path, flush=True)
    print(f"obsarchive simulate: wrote {count} products for the night of {night}", file=sys.stderr)
    return EXIT_OK
