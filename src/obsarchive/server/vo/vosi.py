"""VOSI capabilities and availability documents (VOSI 1.1; SIA 2.0 and SODA 1.0 require them).

pyvo's ``SIA2Service`` reads the capabilities to find the ``SIA#query-2.0`` access URL; the
other entries serve TOPCAT, validators and registries. Both documents are anonymous.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from obsarchive.server.vo.config import VoSettings
from obsarchive.server.vo.datalink import SODA_STANDARD_ID
from obsarchive.server.vo.descriptors import DATALINK_STANDARD_ID, SIA_STANDARD_ID

__all__ = ["availability_document", "capabilities_document"]

_CAPABILITIES_NS = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
_AVAILABILITY_NS = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
_VS_NS = "http://www.ivoa.net/xml/VODataService/v1.1"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
CAPABILITIES_ID = "ivo://ivoa.net/std/VOSI#capabilities"
AVAILABILITY_ID = "ivo://ivoa.net/std/VOSI#availability"


def _capability(
    standard_id: str, url: str, *, use: str, version: str | None = None, description: str = ""
) -> str:
    role = ' role="std"' + (f' version="{version}"' if version else "")
    text = f"<description>{escape(description)}</description>" if description else ""
    return (
        f'  <capability standardID="{escape(standard_id)}">{text}\n'
        f'    <interface xsi:type="vs:ParamHTTP"{role}>'
        f'<accessURL use="{use}">{escape(url)}</accessURL></interface>\n'
        "  </capability>\n"
    )


def capabilities_document(urls: dict[str, str], config: VoSettings) -> str:
    """The capabilities of the VO services.

    Parameters
    ----------
    urls
        Absolute URLs keyed ``capabilities``, ``availability``, ``sia``, ``links``, ``soda``.
    """
    limits = (
        f"Without MAXREC at most {config.maxrec_default} rows are returned; MAXREC is capped "
        f"at {config.maxrec_limit}. Unknown parameters are ignored."
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<vosi:capabilities xmlns:vosi="{_CAPABILITIES_NS}" xmlns:vs="{_VS_NS}" '
        f'xmlns:xsi="{_XSI_NS}">\n'
        + _capability(CAPABILITIES_ID, urls["capabilities"], use="full")
        + _capability(AVAILABILITY_ID, urls["availability"], use="full")
        + _capability(SIA_STANDARD_ID, urls["sia"], use="base", version="2.0", description=limits)
        + _capability(
            DATALINK_STANDARD_ID,
            urls["links"],
            use="base",
            description=f"At most {config.links_max_ids} IDs are resolved per request.",
        )
        + _capability(SODA_STANDARD_ID, urls["soda"], use="base", version="1.0")
        + "</vosi:capabilities>\n"
    )


def availability_document(available: bool, note: str) -> str:
    """The availability document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<vosi:availability xmlns:vosi="{_AVAILABILITY_NS}">\n'
        f"  <vosi:available>{'true' if available else 'false'}</vosi:available>\n"
        f"  <vosi:note>{escape(note)}</vosi:note>\n"
        "</vosi:availability>\n"
    )
