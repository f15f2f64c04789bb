"""obsarchive: archive observatory data products and serve them (OCS-compatible)."""

__version__ = "0.1.0"
