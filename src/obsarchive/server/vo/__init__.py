"""Virtual Observatory interfaces of the archive (``/vo/``): ObsCore, SIA 2.0, DataLink, SODA.

IVOA clients (pyvo, astroquery, TOPCAT, Aladin) find, download and cut out frames here without
archive-specific code. The visibility rules, the sky index and the stored files are those of
the frames API; this package only speaks the IVOA protocols over them (docs/vo.md).
"""
