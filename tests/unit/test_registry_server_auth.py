"""The registry server's auth: htpasswd (bcrypt), JWT verification as distribution's token
access controller does it, access records and the challenges."""

import base64
import re
import time

import bcrypt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ketch.registry.server.auth import access, htpasswd
from ketch.registry.server.auth.access import Access, Challenge
from ketch.registry.server.auth.token import InvalidToken, TokenController, TokenVerifier, key_id
from tests.registry_helpers import certificate, claims, pem, rsa_key, sign_jwt

ISSUER, SERVICE = "test-issuer", "test-registry"
PULL = Access("repository", "team/app", "pull")
PUSH = Access("repository", "team/app", "push")


def _basic(user, password):
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# htpasswd


def test_htpasswd_parse_keeps_bcrypt_only():
    text = "# comment\nalice:$2y$05$abc\nbob:{SHA}xyz\n\ncarol:$2b$05$def\nbroken\n"
    assert htpasswd.parse(text) == {"alice": b"$2y$05$abc", "carol": b"$2b$05$def"}


def test_bcrypt_verify_with_apaches_2y_prefix():
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).replace(b"$2b$", b"$2y$")
    assert htpasswd.verify(hashed, "s3cret")
    assert not htpasswd.verify(hashed, "wrong")
    assert not htpasswd.verify(b"$2y$nonsense", "s3cret")


@pytest.mark.parametrize("header, expected", [
    ("Basic " + base64.b64encode(b"alice:pa:ss").decode(), ("alice", "pa:ss")),
    ("basic " + base64.b64encode(b"alice:").decode(), ("alice", "")),
    ("Basic " + base64.b64encode(b"nocolon").decode(), None),
    ("Basic !!!", None),
    ("Bearer abc", None),
])
def test_basic_credentials(header, expected):
    assert htpasswd.basic_credentials({"authorization": header}) == expected


def test_htpasswd_controller(tmp_path):
    path = tmp_path / "htpasswd"
    path.write_text("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode() + "\n")
    controller = htpasswd.HtpasswdController(str(path), "Registry Realm")
    assert controller.authorize(_basic("alice", "s3cret"), (PULL,)) == "alice"
    assert controller.authorize(_basic("alice", "s3cret"), (PULL,)) == "alice"  # cached
    for headers in ({}, _basic("alice", "nope"), _basic("bob", "s3cret")):
        with pytest.raises(Challenge) as info:
            controller.authorize(headers, (PULL,))
        assert info.value.header == 'Basic realm="Registry Realm"'
    time.sleep(0.01)
    path.write_text("bob:" + bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode() + "\n")  # read again
    assert controller.authorize(_basic("bob", "pw"), ()) == "bob"
    with pytest.raises(Challenge):
        controller.authorize(_basic("alice", "s3cret"), ())  # the cache went with the old file


def test_htpasswd_missing_file_fails_at_start(tmp_path):
    with pytest.raises(FileNotFoundError):
        htpasswd.HtpasswdController(str(tmp_path / "nope"), "r")


# access records and scopes


def test_access_records_per_method():
    assert access.for_request("GET", "a") == (Access("repository", "a", "pull"),)
    assert access.for_request("HEAD", "a") == (Access("repository", "a", "pull"),)
    assert access.for_request("PATCH", "a") == (Access("repository", "a", "pull"), Access("repository", "a", "push"))
    assert access.for_request("DELETE", "a") == (Access("repository", "a", "delete"),)
    assert access.for_request("POST", "a", "b")[-1] == Access("repository", "b", "pull")


def test_scope():
    records = access.for_request("POST", "a", "b/c")
    assert access.scope(records) == "repository:a:pull,push repository:b/c:pull"
    assert access.scope(access.CATALOG) == "registry:catalog:*"
    assert access.scope(()) == ""


# tokens


@pytest.fixture
def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def _verifier(*objects) -> TokenVerifier:
    return TokenVerifier(ISSUER, SERVICE, b"".join(pem(o) for o in objects))


def _grant(*actions):
    return [{"type": "repository", "name": "team/app", "actions": list(actions)}]


def test_key_id_is_libtrusts():
    # libtrust's format: 12 groups of 4 base32 characters
    kid = key_id(ec.generate_private_key(ec.SECP256R1()).public_key())
    assert re.fullmatch(r"[A-Z2-7]{4}(:[A-Z2-7]{4}){11}", kid), kid


def test_es256_by_kid_with_a_public_key(ec_key):
    verifier = _verifier(ec_key.public_key())
    token = sign_jwt(ec_key, claims(ISSUER, SERVICE, _grant("pull", "push")), {"kid": key_id(ec_key.public_key())})
    result = verifier.verify(token)
    assert result.subject == "alice"
    assert result.allows(PULL) and result.allows(PUSH)
    assert not result.allows(Access("repository", "team/app", "delete"))
    assert not result.allows(Access("repository", "other", "pull"))


def test_rs256_by_kid_with_a_certificate():
    key = rsa_key()
    verifier = _verifier(certificate(key, ISSUER))
    token = sign_jwt(key, claims(ISSUER, SERVICE, _grant("*")), {"kid": key_id(key.public_key())})
    assert verifier.verify(token).allows(Access("repository", "team/app", "delete"))  # "*" grants all


def test_x5c_chain_to_a_trusted_root(ec_key):
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = certificate(root_key, "root", ca=True)
    leaf = certificate(ec_key, "signer", issuer_key=root_key, issuer_cert=root)
    x5c = [base64.b64encode(leaf.public_bytes(serialization.Encoding.DER)).decode()]
    token = sign_jwt(ec_key, claims(ISSUER, SERVICE, _grant("pull")), {"x5c": x5c})
    assert _verifier(root).verify(token).allows(PULL)
    other_root = certificate(ec.generate_private_key(ec.SECP256R1()), "other", ca=True)
    with pytest.raises(InvalidToken, match="not trusted"):
        _verifier(other_root).verify(token)


def test_jwk_header(ec_key):
    numbers = ec_key.public_key().public_numbers()
    from tests.registry_helpers import b64url
    jwk = {"kty": "EC", "crv": "P-256", "x": b64url(numbers.x.to_bytes(32, "big")),
           "y": b64url(numbers.y.to_bytes(32, "big"))}
    token = sign_jwt(ec_key, claims(ISSUER, SERVICE, _grant("pull")), {"jwk": jwk})
    assert _verifier(ec_key.public_key()).verify(token).allows(PULL)
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidToken, match="untrusted"):
        _verifier(stranger.public_key()).verify(token)


# Times relative to when the test runs, not to collection: a suite's run can start minutes
# after its collection, by which time a "not before" of collection + 120 s has passed.
@pytest.mark.parametrize("change, message", [
    (lambda now: {"iss": "someone-else"}, "untrusted issuer"),
    (lambda now: {"aud": "another-registry"}, "another audience"),
    (lambda now: {"exp": now - 120}, "expired"),
    (lambda now: {"nbf": now + 120}, "before its time"),
])
def test_claims_are_checked(ec_key, change, message):
    verifier = _verifier(ec_key.public_key())
    token = sign_jwt(ec_key, {**claims(ISSUER, SERVICE, _grant("pull")), **change(int(time.time()))},
                     {"kid": key_id(ec_key.public_key())})
    with pytest.raises(InvalidToken, match=message):
        verifier.verify(token)


def test_audience_may_be_a_list_and_skew_is_allowed(ec_key):
    verifier = _verifier(ec_key.public_key())
    token = sign_jwt(ec_key, {**claims(ISSUER, SERVICE, _grant("pull")), "aud": ["x", SERVICE],
                              "exp": int(time.time()) - 30}, {"kid": key_id(ec_key.public_key())})
    assert verifier.verify(token).allows(PULL)


def test_bad_signatures_and_untrusted_keys(ec_key):
    verifier = _verifier(ec_key.public_key())
    kid = key_id(ec_key.public_key())
    token = sign_jwt(ec_key, claims(ISSUER, SERVICE, _grant("pull")), {"kid": kid})
    head, body, sig = token.split(".")
    forged = sign_jwt(ec_key, claims(ISSUER, SERVICE, _grant("pull", "push", "delete")), {"kid": kid}).split(".")[1]
    with pytest.raises(InvalidToken, match="does not verify"):
        verifier.verify(f"{head}.{forged}.{sig}")
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidToken, match="untrusted key"):
        verifier.verify(sign_jwt(stranger, claims(ISSUER, SERVICE, []), {"kid": key_id(stranger.public_key())}))
    with pytest.raises(InvalidToken, match="does not verify"):  # the trusted key's kid, a stranger's signature
        verifier.verify(sign_jwt(stranger, claims(ISSUER, SERVICE, []), {"kid": kid}))
    with pytest.raises(InvalidToken, match="algorithm"):
        verifier.verify(sign_jwt(ec_key, claims(ISSUER, SERVICE, []), {"kid": kid, "alg": "none"}))
    for junk in ("", "a.b", "a.b.c", "!!.!!.!!"):
        with pytest.raises(InvalidToken):
            verifier.verify(junk)


def test_token_controller_challenges_as_distribution(ec_key):
    controller = TokenController("https://auth.example/token", _verifier(ec_key.public_key()))
    kid = key_id(ec_key.public_key())
    records = access.for_request("POST", "team/app")
    with pytest.raises(Challenge) as info:
        controller.authorize({}, records)
    assert info.value.header == ('Bearer realm="https://auth.example/token",service="test-registry",'
                                 'scope="repository:team/app:pull,push"')
    with pytest.raises(Challenge) as info:
        controller.authorize({"authorization": "Bearer junk"}, records)
    assert info.value.header.endswith(',error="invalid_token"')
    pull_only = sign_jwt(ec_key, claims(ISSUER, SERVICE, _grant("pull")), {"kid": kid})
    with pytest.raises(Challenge) as info:
        controller.authorize({"authorization": f"Bearer {pull_only}"}, records)
    assert info.value.header.endswith(',scope="repository:team/app:pull,push",error="insufficient_scope"')
    assert controller.authorize({"authorization": f"Bearer {pull_only}"}, (PULL,)) == "alice"
    with pytest.raises(Challenge) as info:
        controller.authorize({}, ())
    assert info.value.header == 'Bearer realm="https://auth.example/token",service="test-registry"'
