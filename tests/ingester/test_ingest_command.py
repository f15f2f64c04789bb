"""The pieces of ``obsarchive ingest`` that need no archive: finding files, exit codes, options.

The command itself is run as a subprocess against a live archive in tests/e2e/test_ingest_cli.py.
"""

from __future__ import annotations

import pytest

from obsarchive.cli import build_parser, main
from obsarchive.commands.ingest import Outcome, exit_code, expand_paths

EXTENSIONS = {".fits", ".fits.fz", ".tar.gz", ".pdf", ".jpg", ".jpeg"}


def touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return str(path)


def test_directories_are_searched_recursively_for_products(tmp_path):
    a = touch(tmp_path / "night" / "a-e00.fits.fz")
    b = touch(tmp_path / "night" / "deeper" / "b-e91.fits")
    touch(tmp_path / "night" / "log.txt")
    touch(tmp_path / "night" / ".hidden.fits")
    touch(tmp_path / "night" / ".obsarchive" / "versions" / "c.fits")
    files, problems = expand_paths([str(tmp_path / "night")], EXTENSIONS)
    assert files == [a, b]
    assert problems == []


def test_files_named_explicitly_are_always_attempted_once(tmp_path):
    text = touch(tmp_path / "notes.txt")
    fits = touch(tmp_path / "a-e00.fits")
    files, _ = expand_paths([text, fits, fits, str(tmp_path)], EXTENSIONS)
    assert files == [text, fits]


def test_glob_patterns_and_missing_paths(tmp_path):
    a = touch(tmp_path / "x" / "a-e00.fits.fz")
    b = touch(tmp_path / "y" / "b-e00.fits.fz")
    touch(tmp_path / "y" / "b.txt")
    files, problems = expand_paths(
        [str(tmp_path / "**" / "*"), str(tmp_path / "nothing*"), str(tmp_path / "gone.fits")],
        EXTENSIONS,
    )
    assert files == [a, b]
    assert [(p.path, p.detail) for p in problems] == [
        (str(tmp_path / "nothing*"), "no file matches this pattern"),
        (str(tmp_path / "gone.fits"), "no such file or directory"),
    ]


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([], 0),
        (["ingested", "already_archived"], 0),
        (["archived"], 0),
        (["ingested", "failed"], 1),
        (["not_archived", "archived"], 1),
        (["failed", "retry_later"], 75),
        (["retry_later", "ingested"], 75),
    ],
)
def test_exit_codes(statuses, code):
    assert exit_code([Outcome("p", status) for status in statuses]) == code


def test_the_command_is_registered_with_its_options():
    args = build_parser().parse_args(
        ["ingest", "--workers", "4", "--metadata", "A=1", "--metadata", "B=x=y", "p.fits"]
    )
    assert args.workers == 4 and args.metadata == [("A", "1"), ("B", "x=y")]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ingest", "--check-only", "--dry-run", "p.fits"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ingest", "--metadata", "novalue", "p.fits"])


def test_a_bad_metadata_file_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "meta.json"
    bad.write_text("[1, 2]")
    assert main(["ingest", "--metadata-file", str(bad), str(tmp_path)]) == 2
    assert "not a JSON object" in capsys.readouterr().err
