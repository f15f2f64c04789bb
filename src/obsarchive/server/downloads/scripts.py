"""Download scripts: a POSIX ``sh`` program fetching a selection with curl or wget.

Unlike the upstream web client's script (bash syntax under a ``#!/bin/sh`` line, the user's API
token written in clear), the script needs only a POSIX shell, ``curl`` or ``wget`` and an md5
tool (``md5sum``, ``md5``, ``openssl`` or ``python3``), and holds no credential: each file has
its own signed, expiring URL. It checks every file's md5 against the archive's record, skips
files already downloaded intact, and exits non-zero when any file failed.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["ScriptEntry", "render_script"]


@dataclass(frozen=True)
class ScriptEntry:
    """One file of the script: where to get it, what to call it, its md5."""

    url: str
    filename: str
    md5: str


_PROLOGUE = r"""set -eu

# Files go to the directory given as first argument (default: the current directory).
if [ "$#" -gt 0 ]; then
    mkdir -p "$1"
    cd "$1"
fi

if command -v curl >/dev/null 2>&1; then
    fetch() { curl --fail --location --silent --show-error --retry 3 --output "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
    fetch() { wget --quiet --tries=3 --output-document="$2" "$1"; }
else
    echo "This script needs curl or wget." >&2
    exit 2
fi

if command -v md5sum >/dev/null 2>&1; then
    md5_of() { md5sum "$1" | cut -d ' ' -f 1; }
elif command -v md5 >/dev/null 2>&1; then
    md5_of() { md5 -q "$1"; }
elif command -v openssl >/dev/null 2>&1; then
    md5_of() { openssl md5 -r "$1" | cut -d ' ' -f 1; }
elif command -v python3 >/dev/null 2>&1; then
    md5_of() {
        python3 -c 'import hashlib, sys
h = hashlib.md5()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"
    }
else
    echo "This script needs md5sum, md5, openssl or python3 to check the files." >&2
    exit 2
fi

failed=0
get() {
    # get URL FILE MD5: download FILE unless an intact copy is already here, then check it.
    if [ -f "$2" ] && [ "$(md5_of "$2")" = "$3" ]; then
        echo "$2: already here"
        return 0
    fi
    if fetch "$1" "$2.part" && [ "$(md5_of "$2.part")" = "$3" ]; then
        mv -f "$2.part" "$2"
        echo "$2: ok"
    else
        rm -f "$2.part"
        echo "$2: FAILED (download error or md5 mismatch)" >&2
        failed=$((failed + 1))
    fi
}

"""

_EPILOGUE = r"""
if [ "$failed" -gt 0 ]; then
    echo "$failed file(s) failed; run the script again (get a new one once its links expired)." >&2
    exit 1
fi
echo "All files downloaded."
"""


def _safe_name(name: str) -> bool:
    """A plain file name: no directory part, not hidden, no control characters."""
    return (
        bool(name)
        and "/" not in name
        and "\\" not in name
        and not name.startswith(".")
        and all(ord(ch) >= 0x20 and ord(ch) != 0x7F for ch in name)
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def render_script(
    entries: Sequence[ScriptEntry],
    *,
    archive: str,
    generated_at: datetime,
    expires_at: datetime,
    unavailable: Sequence[str] = (),
) -> str:
    """The text of a download script for ``entries``.

    Parameters
    ----------
    entries
        The files, in the order they are fetched.
    archive
        The archive's address, named in the header comment.
    generated_at, expires_at
        When the script was made and when its links stop working (aware UTC).
    unavailable
        Names of selected files that have no download link; listed as comments.

    Notes
    -----
    Every URL and file name is quoted with :func:`shlex.quote`, so no value from the database
    can inject shell syntax; a name with a directory part or a control character is left out
    (commented), so no file can be written outside the target directory.
    """
    lines = [
        "#!/bin/sh",
        f"# Download script from {archive.replace(chr(10), ' ')}: {len(entries)} file(s).",
        f"# Made {_iso(generated_at)}; its links stop working at {_iso(expires_at)}.",
        "# It holds no password or API token: each link is signed for one file only.",
        "# Usage: sh archivedownload.sh [directory]",
        "",
        _PROLOGUE.rstrip("\n"),
        "",
    ]
    for name in unavailable:
        lines.append(f"# not available for download: {name.replace(chr(10), ' ')}")
    for entry in entries:
        if not _safe_name(entry.filename):
            lines.append(f"# not available for download (unsafe file name): {entry.filename!r}")
            continue
        # "./" keeps a name starting with "-" from being read as an option by mv, rm, md5sum.
        path = shlex.quote("./" + entry.filename)
        lines.append(f"get {shlex.quote(entry.url)} {path} {shlex.quote(entry.md5)}")
    lines.append(_EPILOGUE.rstrip("\n"))
    return "\n".join(lines) + "\n"
