"""ketch.oci.pathmatch: Go's path.Match, cases from Go's own match tests."""

import pytest

from ketch.oci.pathmatch import BadPattern, match

MATCHES = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True),
    ("a*", "abc", True), ("a*", "ab/c", False), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", True), ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False), ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False), ("ab[^b-d]", "abc", False), ("ab[^e-g]", "abc", True),
    ("a\\*b", "a*b", True), ("a\\*b", "ab", False), ("a?b", "a☺b", True), ("a[^a]b", "a☺b", True),
    ("a???b", "a☺b", False), ("a[^a][^a][^a]b", "a☺b", False), ("[a-ζ]*", "α", True),
    ("*[a-ζ]", "A", False), ("a?b", "a/b", False), ("a*b", "a/b", False),
    ("[\\]a]", "]", True), ("[\\-]", "-", True), ("[x\\-]", "x", True), ("[x\\-]", "-", True),
    ("[x\\-]", "z", False), ("[\\-x]", "x", True), ("[\\-x]", "-", True), ("[\\-x]", "a", False),
    ("*x", "xxx", True), ("busybox", "busybox", True), ("busy*", "busybox", True),
    ("busybox:v*", "busybox:v2", True), ("*", "team/app", False),
]


@pytest.mark.parametrize("pattern,name,expected", MATCHES)
def test_match(pattern, name, expected):
    assert match(pattern, name) is expected


@pytest.mark.parametrize("pattern", ["[", "[^", "[^bc", "a[", "[]a]", "[-]", "[x-]", "[-x]",
                                     "\\", "[a-b-c]", "a[\\", "ab["])
def test_bad_pattern(pattern):
    with pytest.raises(BadPattern) as exc:
        match(pattern, "a")
    assert str(exc.value) == "syntax error in pattern"
