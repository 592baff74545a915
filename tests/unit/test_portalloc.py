"""ketch/network/portalloc: parsing and picking (pure), then reservations with real sockets
bound on loopback addresses only (fast, nothing global: the sockets close with the test)."""

import random
import socket

import pytest

from ketch import errors
from ketch.network import model, portalloc
from ketch.network.portalloc import PortAllocator, PortRequest


def test_parse_range():
    assert portalloc.parse_range("") == (0, 0)
    assert portalloc.parse_range("8080") == (8080, 8080)
    assert portalloc.parse_range("8000-8010") == (8000, 8010)
    for bad in ("0", "8010-8000", "abc", "1-70000", "-5"):
        with pytest.raises(errors.InvalidArgument, match="invalid port range"):
            portalloc.parse_range(bad)


def test_ephemeral_range(tmp_path):
    assert portalloc.parse_ephemeral("32768\t60999\n") == (32768, 60999)
    f = tmp_path / "range"
    f.write_text("1024 2048\n")
    assert portalloc.ephemeral_range(str(f)) == (1024, 2048)
    f.write_text("junk\n")
    assert portalloc.ephemeral_range(str(f)) == portalloc.EPHEMERAL_FALLBACK
    assert portalloc.ephemeral_range(str(tmp_path / "missing")) == (49153, 65535)


def test_candidates_round_robin():
    assert list(portalloc.candidates(10, 14, 14, set())) == [10, 11, 12, 13, 14]
    assert list(portalloc.candidates(10, 14, 11, {13})) == [12, 14, 10, 11]
    assert list(portalloc.candidates(10, 14, 99, set())) == [10, 11, 12, 13, 14]


def test_random_ports_are_distinct_and_not_reused_at_once():
    pa = PortAllocator((100, 103), bind=False)
    got = [pa.allocate([PortRequest("tcp", 80)])[0] for _ in range(3)]
    assert [b.host_port for b in got] == [100, 101, 102]
    assert got[0] == model.PortBinding("tcp", 80, "0.0.0.0", 100)
    pa.release(got[:1])
    assert pa.allocate([PortRequest("tcp", 80)])[0].host_port == 103
    assert pa.allocate([PortRequest("tcp", 80)])[0].host_port == 100  # wrapped around
    with pytest.raises(portalloc.AllPortsAllocated, match="^all ports are allocated$"):
        pa.allocate([PortRequest("tcp", 80)])
    # another protocol, another family: their own ports (10.1.2.3 would overlap 0.0.0.0)
    assert pa.allocate([PortRequest("udp", 80)])[0].host_port == 100
    assert pa.allocate([PortRequest("tcp", 80, "::1")])[0].host_port == 100
    with pytest.raises(portalloc.AllPortsAllocated):
        pa.allocate([PortRequest("tcp", 80, "10.1.2.3")])


def test_explicit_ports_and_ranges():
    pa = PortAllocator((100, 199), bind=False)
    assert pa.allocate([PortRequest("tcp", 80, "", 8080)])[0].host_port == 8080
    with pytest.raises(portalloc.PortAlreadyAllocated) as e:
        pa.allocate([PortRequest("tcp", 81, "0.0.0.0", 8080)])
    assert str(e.value) == "Bind for 0.0.0.0:8080 failed: port is already allocated"
    assert isinstance(e.value, errors.Internal)  # Docker answers 500
    pa.allocate([PortRequest("tcp", 80, "", 8000)])
    assert pa.allocate([PortRequest("tcp", 80, "", 8000, 8002)])[0].host_port == 8001
    assert pa.allocate([PortRequest("tcp", 80, "", 8000, 8002)])[0].host_port == 8002
    with pytest.raises(portalloc.AllPortsAllocated):
        pa.allocate([PortRequest("tcp", 80, "", 8000, 8002)])
    with pytest.raises(errors.InvalidArgument):
        pa.allocate([PortRequest("tcp", 80, "", 8002, 8000)])
    with pytest.raises(errors.InvalidArgument):
        pa.allocate([PortRequest("icmp", 80)])


def test_all_or_nothing():
    pa = PortAllocator((100, 199), bind=False)
    pa.allocate([PortRequest("tcp", 80, "", 8080)])
    before = pa.allocated()
    with pytest.raises(portalloc.PortAlreadyAllocated):
        pa.allocate([PortRequest("tcp", 80), PortRequest("udp", 53, "", 5353), PortRequest("tcp", 81, "", 8080)])
    assert pa.allocated() == before


def test_dual_stack_wildcard_takes_one_port_on_both_families():
    pa = PortAllocator((100, 199), dual_stack=True, bind=False)
    assert pa.allocate([PortRequest("tcp", 80, "", 8080)]) == (
        model.PortBinding("tcp", 80, "0.0.0.0", 8080), model.PortBinding("tcp", 80, "::", 8080))
    assert [b.host_ip for b in pa.allocate([PortRequest("tcp", 80, "0.0.0.0", 9090)])] == ["0.0.0.0"]
    # a port taken on :: only is not offered to a wildcard request either
    pa.allocate([PortRequest("tcp", 80, "::", 100)])
    assert {b.host_port for b in pa.allocate([PortRequest("tcp", 80)])} == {101}


def test_wildcard_and_specific_address_collide_as_in_the_kernel():
    pa = PortAllocator((100, 199), bind=False)
    pa.allocate([PortRequest("tcp", 80, "127.0.0.1", 8080)])
    with pytest.raises(portalloc.BindFailed) as e:
        pa.allocate([PortRequest("tcp", 80, "0.0.0.0", 8080)])
    assert str(e.value) == ("Error starting userland proxy: listen tcp4 0.0.0.0:8080: "
                            "bind: address already in use")
    pa.allocate([PortRequest("tcp", 80, "::1", 8080)])  # another family: no collision


def test_restore():
    pa = PortAllocator((100, 101), bind=False)
    records = [model.PortBinding("tcp", 80, "0.0.0.0", 100), model.PortBinding("udp", 53, "", 100)]
    assert pa.restore(records) == ()
    assert pa.allocated() == {("0.0.0.0", "tcp", 100), ("0.0.0.0", "udp", 100)}
    assert pa.allocate([PortRequest("tcp", 80)])[0].host_port == 101


def test_external_connectivity_wrapping():
    inner = portalloc.PortAlreadyAllocated("Bind for 0.0.0.0:8080 failed: port is already allocated")
    e = portalloc.external_connectivity_failed("web", "ab" * 32, inner)
    assert isinstance(e, portalloc.PortAlreadyAllocated)
    assert str(e) == (f"driver failed programming external connectivity on endpoint web ({'ab' * 32}): "
                      "Bind for 0.0.0.0:8080 failed: port is already allocated")


# -- real sockets, loopback only ----------------------------------------------------------

def _free_port(ip: str, kind=socket.SOCK_STREAM) -> int:
    """A port in 61000-64999 (outside the usual ephemeral range) free on ``ip``."""
    for _ in range(100):
        port = random.randint(61000, 64999)
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


def _can_bind(ip: str, port: int, kind=socket.SOCK_STREAM, reuse: bool = True) -> bool:
    s = socket.socket(socket.AF_INET, kind)
    try:
        if reuse:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        if kind == socket.SOCK_STREAM:
            s.listen()
        return True
    except OSError:
        return False
    finally:
        s.close()


@pytest.fixture
def pa():
    pa = PortAllocator((61000, 64999))
    yield pa
    pa.close()


def test_a_reserved_port_cannot_be_taken_by_another_process(pa):
    ip = "127.0.0.7"
    port = _free_port(ip)
    binding, = pa.allocate([PortRequest("tcp", 80, ip, port)])
    assert binding == model.PortBinding("tcp", 80, ip, port)
    assert not _can_bind(ip, port) and not _can_bind(ip, port, reuse=False)
    udp, = pa.allocate([PortRequest("udp", 53, ip, port)])
    assert not _can_bind(ip, port, socket.SOCK_DGRAM)
    pa.release([binding, udp])
    assert _can_bind(ip, port) and _can_bind(ip, port, socket.SOCK_DGRAM)


def test_a_port_held_by_another_process_fails_as_with_docker(pa):
    ip = "127.0.0.8"
    port = _free_port(ip)
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    other.bind((ip, port))
    other.listen()
    try:
        with pytest.raises(portalloc.BindFailed) as e:
            pa.allocate([PortRequest("tcp", 80, "", 0), PortRequest("tcp", 80, ip, port)])
        assert str(e.value) == (f"Error starting userland proxy: listen tcp4 {ip}:{port}: "
                                "bind: address already in use")
        assert pa.allocated() == frozenset()  # the first request's port was given back
        # a random pick moves on to the next port
        narrow = PortAllocator((port, port + 1))
        try:
            assert narrow.allocate([PortRequest("tcp", 80, ip)])[0].host_port == port + 1
        finally:
            narrow.close()
    finally:
        other.close()


def test_restore_rebinds(pa):
    ip = "127.0.0.9"
    port = _free_port(ip)
    assert pa.restore([model.PortBinding("tcp", 80, ip, port)]) == ()
    assert not _can_bind(ip, port)
    blocker = socket.socket()
    blocker.bind((ip, 0))
    blocker.listen()
    try:
        lost = model.PortBinding("tcp", 80, ip, blocker.getsockname()[1])
        assert pa.restore([lost]) == (lost,)
        assert (ip, "tcp", lost.host_port) in pa.allocated()
    finally:
        blocker.close()
