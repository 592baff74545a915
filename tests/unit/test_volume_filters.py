"""api/volumefilters.py: GET /volumes and POST /volumes/prune filters as moby applies them."""

import pytest

from ketch import errors
from ketch.api.volumefilters import filter_volumes, prune_filter
from ketch.volume.model import ANONYMOUS_LABEL, Volume


def vol(name, labels=None, driver="local"):
    return Volume(name, driver, f"/v/{name}/_data", "2026-01-01T00:00:00Z", labels or {})


VOLS = [vol("web-data", {"a": "b", "c": ""}), vol("web-logs", {"a": "c"}), vol("db"),
        vol("f" * 64, {ANONYMOUS_LABEL: ""})]
USED = {"db"}


def names(f):
    return [v.name for v in filter_volumes(VOLS, f, lambda n: n in USED)]


@pytest.mark.parametrize("f, expected", [
    ({}, ["web-data", "web-logs", "db", "f" * 64]),
    ({"name": ["web"]}, ["web-data", "web-logs"]),  # a substring: an unanchored regexp
    ({"name": ["^db$", "logs"]}, ["web-logs", "db"]),  # values: alternatives
    ({"name": ["("]}, []),  # a bad regexp matches nothing
    ({"name": []}, ["web-data", "web-logs", "db", "f" * 64]),
    ({"driver": ["local"]}, ["web-data", "web-logs", "db", "f" * 64]),
    ({"driver": ["loc"]}, []),
    ({"label": ["a"]}, ["web-data", "web-logs"]),
    ({"label": ["a=b"]}, ["web-data"]),
    ({"label": ["a", "c"]}, ["web-data"]),  # all must hold
    ({"label": ["c="]}, ["web-data"]),
    ({"dangling": ["true"]}, ["web-data", "web-logs", "f" * 64]),
    ({"dangling": ["1"]}, ["web-data", "web-logs", "f" * 64]),
    ({"dangling": ["false"]}, ["db"]),
    ({"dangling": ["0"], "name": ["web"]}, []),
])
def test_list_filters(f, expected):
    assert names(f) == expected


@pytest.mark.parametrize("f, message", [
    ({"dangling": ["bogus"]}, "invalid filter 'dangling=[bogus]'"),
    ({"dangling": ["true", "false"]}, "invalid filter 'dangling=[true false]'"),
])
def test_bad_dangling(f, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        names(f)
    assert str(exc.value) == message


@pytest.mark.parametrize("f, expected", [
    ({}, ["f" * 64]),  # the anonymous ones only (API 1.42)
    ({"all": ["true"]}, ["web-data", "web-logs", "db", "f" * 64]),
    ({"all": ["1"], "label": ["a"]}, ["web-data", "web-logs"]),
    ({"all": ["false"]}, ["f" * 64]),
    ({"all": ["true"], "label!": ["a"]}, ["db", "f" * 64]),
    ({"all": ["true"], "label!": ["a", "c"]}, ["web-logs", "db", "f" * 64]),  # left alone: all match
    ({"label": ["a"]}, []),  # anonymous and labelled a: none
])
def test_prune_selection(f, expected):
    selects = prune_filter(f)
    assert [v.name for v in VOLS if selects(v)] == expected


@pytest.mark.parametrize("f, message", [
    ({"all": ["maybe"]}, 'invalid filter \'all\': strconv.ParseBool: parsing "maybe": invalid syntax'),
    ({"all": ["1", "0"]}, "invalid filter 'all=[1 0]': only one value is expected"),
])
def test_bad_all(f, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        prune_filter(f)
    assert str(exc.value) == message
