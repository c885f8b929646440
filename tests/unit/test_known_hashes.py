"""Known-hash lists: format, and the three-way hash_match they decide."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.known_hashes import load_known_hashes, match, parse_known_hashes, write_known_hashes

MD5_A = "0" * 31 + "a"
SHA1_B = "0" * 39 + "b"


def test_comments_blank_lines_case_and_trailing_names_are_handled() -> None:
    lines = [
        "# a comment",
        "",
        f"  {MD5_A.upper()}  ",
        f"{SHA1_B} some-file.bin",
        f"{MD5_A} # again",
    ]
    assert parse_known_hashes(lines) == {MD5_A, SHA1_B}


def test_a_bad_line_names_its_place_not_its_content() -> None:
    with pytest.raises(ValueError) as e:
        parse_known_hashes([MD5_A, "not-a-digest-SECRET"], source="list.txt")
    assert "list.txt: line 2" in str(e.value) and "SECRET" not in str(e.value)
    with pytest.raises(ValueError):
        parse_known_hashes(["abc123"])  # hex but too short for a file digest


def test_load_unions_lists_and_write_reads_back(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    assert write_known_hashes(a, [MD5_A.upper(), MD5_A]) == 1
    b.write_text(SHA1_B + "\n")
    assert load_known_hashes([a, b]) == {MD5_A, SHA1_B}
    assert load_known_hashes([]) == frozenset()


@pytest.mark.parametrize(
    ("hashes", "known", "expected"),
    [
        ([MD5_A.upper()], frozenset({MD5_A}), "known"),
        (["f" * 32, MD5_A], frozenset({MD5_A}), "known"),
        (["f" * 32], frozenset({MD5_A}), "none"),
        (["f" * 32], frozenset(), "none"),
        ([], frozenset({MD5_A}), "unchecked"),
        (["  "], frozenset({MD5_A}), "unchecked"),
        ([MD5_A], None, "unchecked"),  # no list configured: nothing was checked
    ],
)
def test_match(hashes: list[str], known: frozenset[str] | None, expected: str) -> None:
    assert match(hashes, known) == expected
