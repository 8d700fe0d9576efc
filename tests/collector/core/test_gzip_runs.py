"""/metrics gzip in runs: one gzip member whatever the cut, its CRC-32 combined exactly."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.exposition_gzip import crc32_combine, deflate, gzip_member, gzip_pieces, runs

PIECES = st.lists(st.binary(max_size=300) | st.sampled_from([b"", b"a" * 5000]), max_size=600)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5000), st.binary(max_size=5000))
def test_crc32_combine_is_the_crc_of_the_concatenation(a: bytes, b: bytes) -> None:
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_crc32_combine_past_four_gigabytes_of_zeros() -> None:
    # crc32 of n zero bytes, n = 2^32 + 3, built by doubling: the length is a big int.
    zeros, size = zlib.crc32(b"\0"), 1
    for _ in range(32):
        zeros, size = crc32_combine(zeros, zeros, size), 2 * size
    three = zlib.crc32(b"\0" * 3)
    assert crc32_combine(zeros, three, 3) == crc32_combine(three, zeros, size)


@settings(max_examples=100, deadline=None)
@given(PIECES, st.integers(min_value=1, max_value=5))
def test_runs_cut_the_pieces_in_order(pieces: list[bytes], count: int) -> None:
    cut = runs(pieces, count)
    assert len(cut) == count
    assert [p for run in cut for p in run] == pieces


@settings(max_examples=100, deadline=None)
@given(PIECES, st.integers(min_value=1, max_value=4))
def test_the_runs_make_one_gzip_member(pieces: list[bytes], count: int) -> None:
    cut = runs(pieces, count)
    body = b"".join(gzip_member([deflate(run, last=at == count - 1)
                                 for at, run in enumerate(cut)]))
    reader = zlib.decompressobj(16 + zlib.MAX_WBITS)  # one member, gzip header and trailer
    assert reader.decompress(body) == b"".join(pieces)
    assert reader.eof and reader.unused_data == b""  # trailer checked (CRC, size), nothing after


def test_runs_are_about_equal_in_bytes() -> None:
    pieces = [b"x" * 100] * 20_000 + [b"y" * 60_000] * 30  # many small, then a few large
    sizes = [sum(map(len, run)) for run in runs(pieces, 2)]
    assert abs(sizes[0] - sizes[1]) < 0.02 * sum(sizes), sizes


def test_one_run_on_this_thread_is_a_gzip_body() -> None:
    assert zlib.decompress(b"".join(gzip_pieces([b"abc", b"", b"def"])), 31) == b"abcdef"
