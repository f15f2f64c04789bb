"""A frame's header in FITS card order, for the frame page.

The archive keeps each frame's header as a JSON object. SQLite keeps its key order, but
PostgreSQL's ``jsonb`` does not (it sorts keys by length), so the page reads the card order from
the stored file itself: only the first header blocks, streamed and never more than
:data:`MAX_HEADER_BYTES`, never the pixel data. The values shown are still the archive's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import IO, Any

from obsarchive.storage.base import ObjectStore, StoreError

__all__ = ["MAX_HEADER_BYTES", "card_order", "ordered_header", "stored_card_order"]

logger = logging.getLogger(__name__)

BLOCK = 2880
CARD = 80
MAX_HEADER_BYTES = 200 * BLOCK  # 7200 cards: far more than any real header
_COMMENTARY = {"COMMENT", "HISTORY", ""}
# Compressed image HDUs (fpack) keep the image's structural keywords under Z names; astropy
# (and so the archive's record) shows them under their image names.
_Z_NAMES = {"ZSIMPLE": "SIMPLE", "ZBITPIX": "BITPIX", "ZNAXIS": "NAXIS", "ZEXTEND": "EXTEND"}


def _keyword(card: bytes) -> str:
    text = card[:8].decode("ascii", errors="replace").strip()
    if text == "HIERARCH":
        body = card[8:].decode("ascii", errors="replace")
        return body.split("=", 1)[0].strip() if "=" in body else ""
    return text


def _value(card: bytes) -> str:
    if card[8:10] != b"= ":
        return ""
    return card[10:].decode("ascii", errors="replace").split("/", 1)[0].strip()


def _header_cards(stream: IO[bytes], budget: list[int]) -> list[bytes] | None:
    """The cards of the next header (up to END), or None at the end of the file."""
    cards: list[bytes] = []
    while budget[0] > 0:
        block = stream.read(BLOCK)
        budget[0] -= BLOCK
        if len(block) < BLOCK:
            return cards or None
        for start in range(0, BLOCK, CARD):
            card = block[start : start + CARD]
            if card[:8] == b"END     ":
                return cards
            cards.append(card)
    return cards


def _has_no_data(cards: list[bytes]) -> bool:
    values = {_keyword(card): _value(card) for card in cards}
    if values.get("NAXIS", "0") in ("0", ""):
        return True
    return any(
        key.startswith("NAXIS") and key[5:].isdigit() and v == "0" for key, v in values.items()
    )


def card_order(stream: IO[bytes], max_bytes: int = MAX_HEADER_BYTES) -> list[str]:
    """Keywords in the order their cards appear in the header that describes the image.

    That is the primary header, unless the primary HDU holds no data (fpacked and
    multi-extension files): then the first extension's header, followed by the primary's
    other cards. Z-prefixed structural keywords of a compressed image are named as astropy
    presents them (``ZBITPIX`` as ``BITPIX``).
    """
    budget = [max_bytes]
    primary = _header_cards(stream, budget)
    if not primary:
        return []
    headers = [primary]
    if _has_no_data(primary):
        following = _header_cards(stream, budget)
        if following:
            headers = [following, primary]
    order: list[str] = []
    seen: set[str] = set()
    for cards in headers:
        for card in cards:
            keyword = _keyword(card)
            keyword = _Z_NAMES.get(keyword, keyword)
            if keyword.startswith("ZNAXIS") and keyword[6:].isdigit():
                keyword = "NAXIS" + keyword[6:]
            if keyword not in seen:
                seen.add(keyword)
                order.append(keyword)
    return order


def stored_card_order(store: ObjectStore, object_key: str, version_id: str) -> list[str]:
    """:func:`card_order` of a stored file; empty when it cannot be read (logged)."""
    if not object_key:
        return []
    try:
        with store.open(object_key, version_id or None) as stream:
            return card_order(stream)
    except (StoreError, OSError, ValueError) as exc:
        logger.warning("no card order for %s: %s", object_key, exc)
        return []


def ordered_header(data: Mapping[str, Any], order: list[str]) -> list[tuple[str, Any]]:
    """The record's header items: keywords in ``order`` first, the rest in record order."""
    position = {keyword: index for index, keyword in enumerate(order)}
    items = list(data.items())
    known = sorted((item for item in items if item[0] in position), key=lambda i: position[i[0]])
    rest = [item for item in items if item[0] not in position]
    return known + rest
