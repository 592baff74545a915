"""``ketch inspect``'s lookup: without --type each kind in docker's order, a 404 passing on
to the next; with a type only that kind; any other error at once."""

import pytest

from ketch.cli.commands.system import _lookup
from ketch.cli.main import StatusError
from ketch.client.http import HTTPError


class StubClient:
    def __init__(self, found: dict[str, int]):
        self.found, self.asked = found, []  # kind -> status (200: found)

    def _answer(self, kind, *args):
        self.asked.append((kind, args))
        status = self.found.get(kind, 404)
        if status != 200:
            raise HTTPError(status, f"{kind} says {status}")
        return {"Kind": kind}

    def inspect_container(self, name, size):
        return self._answer("container", name, size)

    def inspect_image(self, name):
        return self._answer("image", name)

    def inspect_network(self, name, verbose):
        return self._answer("network", name, verbose)

    def inspect_volume(self, name):
        return self._answer("volume", name)


class StubCli:
    def __init__(self, found):
        self.client = StubClient(found)


@pytest.mark.parametrize("found, kind, expected, asked", [
    ({"container": 200}, None, "container", ["container"]),
    ({"image": 200, "volume": 200}, None, "image", ["container", "image"]),
    ({"volume": 200}, None, "volume", ["container", "image", "network", "volume"]),
    ({"network": 200}, "network", "network", ["network"]),
    ({"container": 200, "volume": 200}, "volume", "volume", ["volume"]),
])
def test_the_first_kind_that_has_it(found, kind, expected, asked):
    cli = StubCli(found)
    assert _lookup(cli, "x", kind, True, True) == {"Kind": expected}
    assert [k for k, _ in cli.client.asked] == asked


def test_arguments_reach_each_kind():
    cli = StubCli({"volume": 200})
    _lookup(cli, "x", None, True, False)
    assert cli.client.asked == [("container", ("x", True)), ("image", ("x",)),
                                ("network", ("x", False)), ("volume", ("x",))]


@pytest.mark.parametrize("found, kind, status, asked", [
    ({}, None, 404, ["container", "image", "network", "volume"]),  # the last kind's 404
    ({"image": 500, "volume": 200}, None, 500, ["container", "image"]),  # not a 404: at once
    ({"container": 200}, "image", 404, ["image"]),
    ({"container": 200}, "volume", 404, ["volume"]),
])
def test_errors(found, kind, status, asked):
    cli = StubCli(found)
    with pytest.raises(HTTPError) as exc:
        _lookup(cli, "x", kind, False)
    assert exc.value.status == status
    assert [k for k, _ in cli.client.asked] == asked


def test_a_kind_ketch_does_not_look_up():
    cli = StubCli({})
    with pytest.raises(StatusError) as exc:
        _lookup(cli, "x", "node", False)
    assert exc.value.message == '"node" is not a valid value for --type'
    assert cli.client.asked == []
