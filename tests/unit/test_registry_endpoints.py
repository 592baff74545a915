"""Where registries are reached: endpoints, mirrors, insecure rules, certs.d, TLS."""

import ssl
import subprocess

import pytest

from ketch.errors import InvalidArgument
from ketch.registry.client import endpoints
from ketch.registry.client.endpoints import RegistryOptions, is_secure, read_certs_dir, resolve


def _urls(eps):
    return [(e.url, e.verify, e.mirror) for e in eps]


def test_docker_io_is_registry_1_with_mirrors_first_for_pulls():
    options = RegistryOptions(mirrors=("https://mirror.example.com", "http://127.0.0.1:5001/"), certs_dir="")
    assert _urls(resolve("docker.io", options)) == [
        ("https://mirror.example.com", True, True),
        ("http://127.0.0.1:5001", False, True),  # a loopback mirror is insecure too
        ("https://registry-1.docker.io", True, False)]
    # pushes never go to a mirror
    assert _urls(resolve("docker.io", options, push=True)) == [("https://registry-1.docker.io", True, False)]
    assert _urls(resolve("index.docker.io", RegistryOptions(certs_dir=""))) == \
        [("https://registry-1.docker.io", True, False)]


@pytest.mark.parametrize("host", ["localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000", "localhost"])
def test_loopback_is_insecure_by_default(host):
    assert not is_secure(host, RegistryOptions(certs_dir=""))
    assert _urls(resolve(host, RegistryOptions(certs_dir=""))) == [
        (f"https://{host}", False, False), (f"http://{host}", False, False)]


def test_loopback_default_can_be_lifted_for_tests_only():
    assert is_secure("127.0.0.1:5000", RegistryOptions(certs_dir="", default_insecure_cidrs=()))


@pytest.mark.parametrize("insecure,host,secure", [
    ((), "10.1.2.3:5000", True),
    (("10.1.2.3:5000",), "10.1.2.3:5000", False),
    (("10.1.2.3:5000",), "10.1.2.3:5001", True),     # by name: the port counts
    (("10.0.0.0/8",), "10.1.2.3:5000", False),       # by CIDR: any port
    (("10.0.0.0/8",), "11.1.2.3", True),
    (("fd00::/8",), "[fd00::1]:5000", False),
    (("myregistry:5000",), "myregistry:5000", False),
    ((), "docker.io", True),
])
def test_insecure_registries(insecure, host, secure):
    assert is_secure(host, RegistryOptions(insecure=insecure, certs_dir="")) is secure


def test_secure_registry_is_https_only():
    assert _urls(resolve("10.1.2.3:5000", RegistryOptions(certs_dir=""))) == [("https://10.1.2.3:5000", True, False)]


@pytest.mark.parametrize("mirror,error", [
    ("ftp://m", "invalid mirror: unsupported scheme 'ftp' in 'ftp://m'"),
    ("https://u:p@m", "invalid mirror: does not support credentials in 'https://u:p@m'"),
    ("https://m/v2/", "invalid mirror: path, query, or fragment at end of the URI 'https://m/v2/'"),
])
def test_bad_mirrors_are_refused(mirror, error):
    with pytest.raises(InvalidArgument) as err:
        RegistryOptions(mirrors=(mirror,))
    assert str(err.value) == error


def test_insecure_registry_with_a_scheme_is_refused():
    with pytest.raises(InvalidArgument, match="^insecure registry http://x:5000 should not contain '://'$"):
        RegistryOptions(insecure=("http://x:5000",))


def test_certs_d_layout(tmp_path):
    host = tmp_path / "reg.example.com:5000"
    host.mkdir()
    for name in ("ca.crt", "other.crt", "client.cert", "client.key", "README"):
        (host / name).write_text("x")
    certs = read_certs_dir(str(host))
    assert certs.cas == (str(host / "ca.crt"), str(host / "other.crt"))
    assert certs.pairs == ((str(host / "client.cert"), str(host / "client.key")),)
    assert read_certs_dir(str(tmp_path / "absent")) == endpoints.CertsDir()
    # endpoints of a secure registry carry its directory; insecure ones ignore it (as moby)
    ep = resolve("reg.example.com:5000", RegistryOptions(certs_dir=str(tmp_path)))[0]
    assert ep.certs == certs


def test_certs_d_pairs_need_both_halves(tmp_path):
    (tmp_path / "client.cert").write_text("x")
    with pytest.raises(InvalidArgument) as err:
        read_certs_dir(str(tmp_path))
    assert str(err.value) == ("missing key client.key for client certificate client.cert. "
                              "CA certificates must use the extension .crt")
    (tmp_path / "client.cert").unlink()
    (tmp_path / "lonely.key").write_text("x")
    with pytest.raises(InvalidArgument, match="^missing client certificate lonely.cert for key lonely.key$"):
        read_certs_dir(str(tmp_path))


def test_ssl_context_loads_the_cas(tmp_path):
    ca = tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k"),
                    "-out", str(ca), "-days", "1", "-subj", "/CN=unit test CA"], check=True, capture_output=True)
    ep = endpoints.Endpoint("https://h:1", "h:1", True, certs=endpoints.CertsDir((str(ca),)))
    ctx = endpoints.ssl_context(ep)
    assert any(c["subject"] == ((("commonName", "unit test CA"),),) for c in ctx.get_ca_certs())
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    insecure = endpoints.ssl_context(endpoints.Endpoint("https://h:1", "h:1", False))
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
    (tmp_path / "bad.crt").write_text("not a certificate")
    with pytest.raises(InvalidArgument, match="unable to load CA certificate"):
        endpoints.ssl_context(endpoints.Endpoint("https://h:1", "h:1", True,
                                                 certs=endpoints.CertsDir((str(tmp_path / "bad.crt"),))))
