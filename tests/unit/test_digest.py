"""ketch.oci.digest: ChainIDs per the OCI image spec, canonical JSON, validation.

The chain below is a real one: an image built on dockerd 20.10.24 from busybox
plus three layers; the diff_ids are its RootFS.Layers and the chain IDs are the
directory names dockerd gave those layers under image/overlay2/layerdb/sha256/.
"""

import pytest

from ketch.errors import InvalidArgument
from ketch.oci.digest import canonical_json, chain_ids, hexpart, of_bytes, validate

DIFF_IDS = [
    "sha256:8b67fb4c2b288425ccfbc716a0c1b5263b612b48e6dfff892c0859ab280607d8",
    "sha256:9c51716c4b437acbe0cd55fbe99b249c7c6dcc536a7b2dac247d61a201ab870b",
    "sha256:d071eace461c97cd87f2310c34265d4d7d58a8584efae6b4726404555c0d4e0e",
    "sha256:4292cefb21bcba207d68a8cbc11aeda7b01b30b47eb0b549fcbef46d79c8ff6c",
]
CHAIN_IDS = [
    "sha256:8b67fb4c2b288425ccfbc716a0c1b5263b612b48e6dfff892c0859ab280607d8",
    "sha256:e203793d7c3fb1d6870302d91e4871346811a08c47c2a6711810cbcb766ed846",
    "sha256:2730e7a528b06eef7546e928bc3c6390693380dd6ab025be987d1e75512939c6",
    "sha256:2e7f80187509a5f02e1ead40618c9af173d87aa54ad2dfaadcd8a41e8f5e141b",
]


@pytest.mark.parametrize("n", range(len(DIFF_IDS) + 1))
def test_chain_ids_match_dockerd(n):
    assert chain_ids(DIFF_IDS[:n]) == CHAIN_IDS[:n]


def test_chain_id_formula():
    """ChainID(L0|L1) = Digest(ChainID(L0) + " " + DiffID(L1)), the spec's definition."""
    a, b = DIFF_IDS[:2]
    assert chain_ids([a, b])[1] == of_bytes(f"{a} {b}".encode())


@pytest.mark.parametrize("data,digest", [
    (b"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
])
def test_of_bytes(data, digest):
    assert of_bytes(data) == digest


CANONICAL = [
    ({}, b"{}"),
    ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
    ({"z": {"y": [3, {"b": None, "a": True}]}}, b'{"z":{"y":[3,{"a":true,"b":null}]}}'),
    ({"s": "caf\u00e9 <&>"}, '{"s":"caf\u00e9 <&>"}'.encode()),
    ({"f": 1.5, "i": -1}, b'{"f":1.5,"i":-1}'),
    ([{"b": 1, "a": 1}], b'[{"a":1,"b":1}]'),
]


@pytest.mark.parametrize("doc,expected", CANONICAL)
def test_canonical_json(doc, expected):
    assert canonical_json(doc) == expected


def test_canonical_json_is_order_independent():
    one = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": DIFF_IDS}}
    two = {"rootfs": {"diff_ids": DIFF_IDS, "type": "layers"}, "os": "linux", "architecture": "amd64"}
    assert of_bytes(canonical_json(one)) == of_bytes(canonical_json(two))


@pytest.mark.parametrize("text,ok", [
    (DIFF_IDS[0], True),
    ("sha256:" + "A" * 64, False),  # upper-case hex is not canonical
    ("sha256:" + "a" * 63, False),
    ("sha256:" + "a" * 65, False),
    ("sha512:" + "a" * 128, False),  # ketch addresses content with sha256 only
    ("a" * 64, False),
    ("", False),
    (" " + DIFF_IDS[0], False),
    (DIFF_IDS[0] + "\n", False),
    ("sha256:../../etc/passwd" + "a" * 48, False),
])
def test_validate(text, ok):
    if ok:
        assert validate(text) == text
        assert hexpart(text) == text[len("sha256:"):]
    else:
        with pytest.raises(InvalidArgument) as exc:
            validate(text)
        assert str(exc.value) == f"invalid digest {text!r}"
        with pytest.raises(InvalidArgument):
            hexpart(text)
