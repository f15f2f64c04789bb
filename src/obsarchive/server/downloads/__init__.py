"""Downloads: signed single-file URLs, streaming zips, uncompressed and catalogue files, scripts."""
