"""Container prune filters: moby's getUntilFromPruneFilters and matchLabels."""

import pytest

from ketch.api import filters as flt
from ketch.apitypes.prune import PruneFilter, match_kv_list
from ketch.errors import InvalidArgument


def test_labels_and_negated_labels():
    f = flt.prune_filter({"label": ["a", "b=2"]})
    assert f.matches(0, {"a": "x", "b": "2"})
    assert not f.matches(0, {"a": "x", "b": "3"})
    assert not f.matches(0, {})
    neg = flt.prune_filter({"label!": ["keep", "tier=db"]})
    assert neg.matches(0, {})  # no labels: nothing to keep
    assert neg.matches(0, {"keep": "1"})  # label! spares a container only when all match
    assert not neg.matches(0, {"keep": "", "tier": "db"})
    assert match_kv_list((), {}) is True


def test_until():
    f = flt.prune_filter({"until": ["2023-11-14T22:13:20Z"]})
    assert f.until_ns == 1_700_000_000 * 10**9
    assert f.matches(1_700_000_000 * 10**9, {}) and not f.matches(1_700_000_000 * 10**9 + 1, {})
    assert flt.prune_filter({"until": ["1700000000.5"]}).until_ns == 1_700_000_000_500_000_000
    assert PruneFilter().matches(2**62, {})
    with pytest.raises(InvalidArgument, match="^more than one until filter specified$"):
        flt.prune_filter({"until": ["1", "2"]})
    with pytest.raises(InvalidArgument, match="failed to parse value as time or duration"):
        flt.prune_filter({"until": ["soon"]})


def test_unknown_filter_is_refused_by_name():
    from ketch.api.routes.containers import PRUNE_FILTERS
    with pytest.raises(InvalidArgument, match="^invalid filter 'status'$"):
        flt.parse('{"status": ["exited"]}', PRUNE_FILTERS)
