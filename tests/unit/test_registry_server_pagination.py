"""n/last pagination and the Link header of tags/list and _catalog."""

import pytest

from ketch.registry.server import pagination
from ketch.registry.server.errcodes import RegistryError

ITEMS = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("n, last, page, more", [
    (None, None, ITEMS, False),
    (2, None, ["a", "b"], True),
    (2, "b", ["c", "d"], True),
    (2, "d", ["e"], False),
    (5, None, ITEMS, False),
    (0, None, [], True),
    (2, "bb", ["c", "d"], True),  # last need not be an item: what sorts after it
    (None, "e", [], False),
])
def test_page(n, last, page, more):
    assert pagination.page(ITEMS, n, last) == (page, more)


@pytest.mark.parametrize("value, expected", [(None, 100), ("", 100), ("0", 0), ("7", 7), ("1000", 1000)])
def test_parse_n(value, expected):
    assert pagination.parse_n(value, 100, 1000) == expected


@pytest.mark.parametrize("value", ["-1", "x", "1001", "1.5"])
def test_parse_n_refuses(value):
    with pytest.raises(RegistryError) as info:
        pagination.parse_n(value, 100, 1000)
    assert info.value.code.value == "PAGINATION_NUMBER_INVALID"
    assert info.value.errors[0][1] == {"n": value}


def test_link():
    assert pagination.link("/v2/team/app/tags/list", 2, "b") == '</v2/team/app/tags/list?last=b&n=2>; rel="next"'
