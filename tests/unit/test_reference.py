"""ketch.oci.reference against distribution/reference and the docker 28.2.2 client.

Every error text below was printed by `docker pull REF` (docker 28.2.2, which
parses references client-side with github.com/distribution/reference v0.6).
"""

import pytest

from ketch.errors import InvalidArgument
from ketch.engine.images.service import tag_reference
from ketch.oci.reference import Reference, check_any, familiar_match, is_digest, is_valid_tag, parse

HEX = "0123456789abcdef" * 4  # 64 hex digits
DIGEST = f"sha256:{HEX}"


# text -> (domain, path, tag, digest, full string, familiar string)
VALID = [
    ("busybox", "docker.io", "library/busybox", "latest", None,
     "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None,
     "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io", "library/busybox", "latest", None,
     "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox", "docker.io", "library/busybox", "latest", None,
     "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/busybox", "docker.io", "library/busybox", "latest", None,
     "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/app:v1", "docker.io", "user/app", "v1", None,
     "docker.io/user/app:v1", "user/app:v1"),
    ("docker.io/user/app", "docker.io", "user/app", "latest", None,
     "docker.io/user/app:latest", "user/app:latest"),
    # nested paths under library/ stay qualified (familiarizeName)
    ("docker.io/library/a/b", "docker.io", "library/a/b", "latest", None,
     "docker.io/library/a/b:latest", "library/a/b:latest"),
    ("localhost/app", "localhost", "app", "latest", None,
     "localhost/app:latest", "localhost/app:latest"),
    ("localhost:5000/a/b:t", "localhost:5000", "a/b", "t", None,
     "localhost:5000/a/b:t", "localhost:5000/a/b:t"),
    ("registry.example.com/team/app", "registry.example.com", "team/app", "latest", None,
     "registry.example.com/team/app:latest", "registry.example.com/team/app:latest"),
    ("[::1]:5000/app:tag", "[::1]:5000", "app", "tag", None,
     "[::1]:5000/app:tag", "[::1]:5000/app:tag"),
    # distribution/reference v0.6: an upper-case first component is a registry
    ("Foo/bar:1", "Foo", "bar", "1", None, "Foo/bar:1", "Foo/bar:1"),
    # a digest alone: no default tag
    (f"busybox@{DIGEST}", "docker.io", "library/busybox", None, DIGEST,
     f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
    (f"busybox:1@{DIGEST}", "docker.io", "library/busybox", "1", DIGEST,
     f"docker.io/library/busybox:1@{DIGEST}", f"busybox:1@{DIGEST}"),
    # "sha256:<hex>" is the repository "sha256" with a 64-character tag
    (DIGEST, "docker.io", "library/sha256", HEX, None,
     f"docker.io/library/sha256:{HEX}", f"sha256:{HEX}"),
    ("a__b.c-d---e", "docker.io", "library/a__b.c-d---e", "latest", None,
     "docker.io/library/a__b.c-d---e:latest", "a__b.c-d---e:latest"),
    ("busybox:Latest_1.x-y", "docker.io", "library/busybox", "Latest_1.x-y", None,
     "docker.io/library/busybox:Latest_1.x-y", "busybox:Latest_1.x-y"),
    ("a" * 247, "docker.io", "library/" + "a" * 247, "latest", None,
     "docker.io/library/" + "a" * 247 + ":latest", "a" * 247 + ":latest"),
]


@pytest.mark.parametrize("text,domain,path,tag,digest,full,familiar", VALID)
def test_parse_valid(text, domain, path, tag, digest, full, familiar):
    ref = parse(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert str(ref) == full
    assert ref.familiar == familiar


# text -> the error docker 28.2.2 printed for `docker pull text`
INVALID = [
    ("", "invalid reference format"),
    ("busybox:", "invalid reference format"),
    (":tag", "invalid reference format"),
    ("_busybox", "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("busybox:a@b", "invalid reference format"),
    ("busybox:" + "a" * 129, "invalid reference format"),
    ("busybox\n", "invalid reference format"),
    (f"busybox@sha256:{'a' * 64}X", "invalid reference format"),
    ("foo/Bar", "invalid reference format: repository name (foo/Bar) must be lowercase"),
    (HEX, f"invalid repository name ({HEX}), cannot specify 64-byte hexadecimal strings"),
    ("Busybox",
                 "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("Busybox:Latest",
                 "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("localhost:5000/Foo:tag",
                 "invalid reference format: repository name (Foo) must be lowercase"),
    (f"UPPER@{DIGEST}",
                 "invalid reference format: repository name (library/UPPER@sha256) must be lowercase"),
    ("a" * 248, "repository name must not be more than 255 characters"),
    ("a" * 300, "repository name must not be more than 255 characters"),
    (f"busybox@sha256:{HEX[:32]}", "invalid checksum digest length"),
    ("busybox:caf\u00e9", "invalid reference format"),
    (f"busybox@md5:{HEX[:32]}", "unsupported digest algorithm"),
]


@pytest.mark.parametrize("text,message", INVALID)
def test_parse_invalid(text, message):
    with pytest.raises(InvalidArgument) as exc:
        parse(text)
    assert str(exc.value) == message


@pytest.mark.parametrize("text,default_tag,tag", [
    ("busybox", True, "latest"),
    ("busybox", False, None),
    ("busybox:1", False, "1"),
])
def test_default_tag(text, default_tag, tag):
    assert parse(text, default_tag=default_tag).tag == tag


def test_with_tag_drops_the_digest():
    ref = parse(f"busybox:1@{DIGEST}").with_tag("2")
    assert ref == Reference("docker.io", "library/busybox", "2", None)
    assert ref.familiar == "busybox:2"


@pytest.mark.parametrize("ref,name,familiar_name", [
    (Reference("docker.io", "library/busybox"), "docker.io/library/busybox", "busybox"),
    (Reference("docker.io", "user/app"), "docker.io/user/app", "user/app"),
    (Reference("quay.io", "library/x"), "quay.io/library/x", "quay.io/library/x"),
])
def test_names(ref, name, familiar_name):
    assert (ref.name, ref.familiar_name) == (name, familiar_name)


@pytest.mark.parametrize("tag,valid", [
    ("latest", True), ("1.36", True), ("_x", True), ("A-b.c_d", True),
    ("w" * 128, True), ("w" * 129, False), ("", False), (".x", False), ("-x", False),
    ("a:b", False), ("a/b", False),
    ("caf\u00e9", False),
])
def test_is_valid_tag(tag, valid):
    assert is_valid_tag(tag) is valid


# distribution's FamiliarMatch: the familiar reference, else its familiar name
@pytest.mark.parametrize("pattern,ref,expected", [
    ("busybox", "busybox", True),  # the name, tag left out
    ("busybox:latest", "busybox", True),
    ("busybox:1", "busybox", False),
    ("busy*", "busybox:1", True),
    ("*", "busybox", True),
    ("*", "team/app", False),  # '*' stops at a slash
    ("team/*", "team/app:1", True),
    ("library/busybox", "busybox", False),  # matched against the familiar forms only
    ("reg.example:5000/app", "reg.example:5000/app:x", True),
])
def test_familiar_match(pattern, ref, expected):
    assert familiar_match(pattern, parse(ref)) is expected


@pytest.mark.parametrize("text,expected", [
    (DIGEST, True), (f"sha512:{HEX * 2}", True), (f"sha256:{HEX[:-1]}", False),
    (f"sha256:{HEX.upper()}", False), (f"md5:{HEX}", False), (HEX, False),
])
def test_is_digest(text, expected):
    assert is_digest(text) is expected


@pytest.mark.parametrize("text", [HEX, DIGEST, "busybox", "busybox:1", "sha256:abc"])
def test_check_any_accepts_ids_digests_and_names(text):
    check_any(text)


@pytest.mark.parametrize("text,message", [
    ("BAD", "invalid reference format: repository name (library/BAD) must be lowercase"),
    ("a b", "invalid reference format"),
    ("", "invalid reference format"),
])
def test_check_any_refusals(text, message):
    with pytest.raises(InvalidArgument) as exc:
        check_any(text)
    assert str(exc.value) == message


# moby v26.1's POST /images/{name}/tag: repo and tag -> the reference to create
@pytest.mark.parametrize("repo,tag,expected", [
    ("busybox", "", "docker.io/library/busybox:latest"),
    ("busybox", "1", "docker.io/library/busybox:1"),
    ("busybox:a", "", "docker.io/library/busybox:a"),
    ("busybox:a", "b", "docker.io/library/busybox:b"),  # the tag given apart wins
    ("reg.example:5000/app", "x", "reg.example:5000/app:x"),
])
def test_tag_reference(repo, tag, expected):
    assert str(tag_reference(repo, tag)) == expected


@pytest.mark.parametrize("repo,tag,message", [
    (f"repo@{DIGEST}", "", "cannot import digest reference"),
    (f"repo:t@{DIGEST}", "x", "cannot import digest reference"),
    ("repo", "bad tag", "invalid tag format"),
    ("repo", ".x", "invalid tag format"),
    ("sha256", "", "refusing to create an ambiguous tag using digest algorithm as name"),
    ("sha256:abc", "", "refusing to create an ambiguous tag using digest algorithm as name"),
    ("UPPER", "", "invalid reference format: repository name (library/UPPER) must be lowercase"),
])
def test_tag_reference_refusals(repo, tag, message):
    with pytest.raises(InvalidArgument) as exc:
        tag_reference(repo, tag)
    assert str(exc.value) == message
