"""Credentials: X-Registry-Auth, the Bearer token flow and its cache, Basic."""

import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from ketch.registry.client import apierror
from ketch.registry.client.auth import AuthConfig, Authorizer, Scope, TokenCache, TokenError, fetch_token
from ketch.registry.client.challenge import parse_challenges

CHALLENGE = parse_challenges(['Bearer realm="https://auth.example/token",service="reg"'])[0]


class FakeTokenServer:
    def __init__(self, status=200, doc=None):
        self.calls = []
        self.status = status
        self.doc = doc if doc is not None else {"token": "T", "expires_in": 300}

    def __call__(self, method, url, headers, form):
        self.calls.append((method, url, headers, form))
        return self.status, {"www-authenticate": []}, json.dumps(self.doc).encode()


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_x_registry_auth_header_round_trip():
    auth = AuthConfig("alice", "pw", serveraddress="localhost:5000")
    assert AuthConfig.from_header(auth.to_header()) == auth
    # Go's json: keys match whatever their case; padding may be missing
    raw = base64.urlsafe_b64encode(json.dumps({"Username": "bob", "Password": "x"}).encode()).decode().rstrip("=")
    assert AuthConfig.from_header(raw) == AuthConfig("bob", "x")
    assert AuthConfig.from_header("") == AuthConfig() and AuthConfig.from_header("%%%") == AuthConfig()
    assert AuthConfig.from_dict({"auth": base64.b64encode(b"carol:pa:ss").decode()}) == AuthConfig("carol", "pa:ss")
    assert "pw" not in repr(auth)


def test_anonymous_token_get():
    server, cache = FakeTokenServer(), TokenCache()
    token = fetch_token(server, CHALLENGE, [Scope.repository("library/busybox")], AuthConfig(), cache)
    assert token.token == "T"
    method, url, headers, form = server.calls[0]
    assert method == "GET" and "Authorization" not in headers and form is None
    assert parse_qsl(urlsplit(url).query) == [("service", "reg"), ("scope", "repository:library/busybox:pull")]


def test_token_get_with_credentials_and_offline_for_login():
    server = FakeTokenServer(200, {"token": "T", "refresh_token": "R"})
    token = fetch_token(server, CHALLENGE, [], AuthConfig("alice", "pw"), TokenCache(), offline=True)
    method, url, headers, _ = server.calls[0]
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pw").decode()
    assert parse_qsl(urlsplit(url).query) == [("service", "reg"), ("offline_token", "true"),
                                              ("client_id", "docker"), ("account", "alice")]
    assert token.refresh_token == "R"


def test_identity_token_uses_the_oauth_post():
    server = FakeTokenServer(doc={"access_token": "A", "expires_in": 120})
    scopes = [Scope.repository("a/b", push=True), Scope.repository("c/d")]
    token = fetch_token(server, CHALLENGE, scopes, AuthConfig(identitytoken="REFRESH"), TokenCache())
    method, url, headers, form = server.calls[0]
    assert (method, url, token.token) == ("POST", "https://auth.example/token", "A")
    assert form == {"grant_type": "refresh_token", "refresh_token": "REFRESH", "client_id": "docker",
                    "service": "reg", "scope": "repository:a/b:pull,push repository:c/d:pull"}


def test_tokens_are_reused_per_scope_until_they_expire():
    server, clock = FakeTokenServer(doc={"token": "T", "expires_in": 10}), Clock()
    cache = TokenCache(clock)
    pull = [Scope.repository("a")]
    for _ in range(3):
        fetch_token(server, CHALLENGE, pull, AuthConfig(), cache)
    assert len(server.calls) == 1
    fetch_token(server, CHALLENGE, [Scope.repository("a", push=True)], AuthConfig(), cache)
    fetch_token(server, CHALLENGE, pull, AuthConfig("alice", "pw"), cache)  # other credentials
    assert len(server.calls) == 3
    clock.t += 59  # expires_in under 60 s counts as 60, as distribution makes it
    fetch_token(server, CHALLENGE, pull, AuthConfig(), cache)
    assert len(server.calls) == 3
    clock.t += 2
    fetch_token(server, CHALLENGE, pull, AuthConfig(), cache)
    assert len(server.calls) == 4


@pytest.mark.parametrize("status,doc,text", [
    (401, {"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]},
     "unauthorized: incorrect username or password"),
    (200, {"expires_in": 60}, "authorization server did not include a token in the response"),
])
def test_token_refusals(status, doc, text):
    with pytest.raises(TokenError) as err:
        fetch_token(FakeTokenServer(status, doc), CHALLENGE, [], AuthConfig("a", "b"), TokenCache())
    assert str(err.value) == text and isinstance(err.value.error, apierror.RegistryUnauthorized)


def test_realm_must_be_http():
    bad = parse_challenges(['Bearer realm="file:///etc/passwd"'])[0]
    with pytest.raises(TokenError, match="invalid token auth challenge realm"):
        fetch_token(FakeTokenServer(), bad, [], AuthConfig(), TokenCache())


def test_authorizer_headers():
    server = FakeTokenServer()
    authz = Authorizer(AuthConfig("alice", "pw"), TokenCache(), server)
    assert authz.header([]) is None  # no challenge yet: nothing sent
    authz.set_challenges(parse_challenges(['Basic realm="r"']))
    assert authz.header([]) == "Basic " + base64.b64encode(b"alice:pw").decode()
    authz.set_challenges([CHALLENGE])
    assert authz.header([Scope.repository("x")]) == "Bearer T"
    passthrough = Authorizer(AuthConfig(registrytoken="RT"), TokenCache(), server)
    passthrough.set_challenges([CHALLENGE])
    assert passthrough.header([]) == "Bearer RT"
    anonymous = Authorizer(AuthConfig(username="only-a-name"), TokenCache(), server)
    anonymous.set_challenges(parse_challenges(['Basic realm="r"']))
    with pytest.raises(TokenError, match="^no basic auth credentials$"):
        anonymous.header([])


def test_a_401_with_a_new_scope_retries_with_it():
    authz = Authorizer(AuthConfig(), TokenCache(), FakeTokenServer())
    authz.set_challenges([CHALLENGE])
    pull = [Scope.repository("a")]
    again = parse_challenges(['Bearer realm="https://auth.example/token",service="reg",'
                              'scope="repository:b:pull"'])
    assert authz.retry_scopes(again, pull) == pull + [Scope("repository", "b", ("pull",))]


def test_a_refused_token_is_dropped_and_a_fresh_one_asked():
    server, cache = FakeTokenServer(), TokenCache()
    authz = Authorizer(AuthConfig(), cache, server)
    authz.set_challenges([CHALLENGE])
    pull = [Scope.repository("a")]
    assert authz.header(pull) == "Bearer T" and authz.header(pull) == "Bearer T"
    assert len(server.calls) == 1
    assert authz.retry_scopes([CHALLENGE], pull, "Bearer T") == pull
    assert authz.header(pull) == "Bearer T" and len(server.calls) == 2


def test_basic_is_retried_only_when_the_challenge_changes():
    authz = Authorizer(AuthConfig("a", "b"), TokenCache(), FakeTokenServer())
    basic = parse_challenges(['Basic realm="r"'])
    authz.set_challenges(basic)
    assert authz.retry_scopes(basic, []) is None
    assert authz.retry_scopes(parse_challenges(['Basic realm="other"']), []) == []
    passthrough = Authorizer(AuthConfig(registrytoken="RT"), TokenCache(), FakeTokenServer())
    passthrough.set_challenges([CHALLENGE])
    assert passthrough.retry_scopes([CHALLENGE], [], "Bearer RT") is None


def test_threads_wanting_the_same_token_ask_once():
    import threading
    import time

    server = FakeTokenServer()
    slow = lambda *a: (time.sleep(0.05), server(*a))[1]  # noqa: E731
    cache = TokenCache()
    threads = [threading.Thread(target=fetch_token, args=(slow, CHALLENGE, [Scope.repository("a")],
                                                           AuthConfig(), cache)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(server.calls) == 1
