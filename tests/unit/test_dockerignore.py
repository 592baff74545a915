"""``.dockerignore`` and Go's filepath.Match: tables of moby's documented behaviour."""

import os

import pytest

from ketch.archive import gomatch
from ketch.archive.dockerignore import BadPattern, PatternMatcher, keep_build_files, read_patterns, walk_context

# (pattern, name, matches) -- Go's filepath.Match semantics
GO_MATCH = [
    ("abc", "abc", True), ("*", "abc", True), ("*c", "abc", True), ("a*", "a", True),
    ("a*", "ab/c", False), ("a*/b", "abc/b", True), ("a*/b", "a/c/b", False),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", True), ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", False),
    ("a*b?c*x", "abxbbxdbxebxczzx", True), ("a*b?c*x", "abxbbxdbxebxczzy", False),
    ("ab[c]", "abc", True), ("ab[b-d]", "abc", True), ("ab[e-g]", "abc", False),
    ("ab[^c]", "abc", False), ("ab[^e-g]", "abc", True), ("ab[!c]", "ab!", True),
    ("a\\*b", "a*b", True), ("a\\*b", "ab", False), ("a?b", "a☺b", True), ("a???b", "a☺b", False),
    ("[a-ζ]*", "α", True), ("a?b", "a/b", False), ("a*b", "a/b", False),
    ("[\\]a]", "]", True), ("[x\\-]", "-", True), ("[x\\-]", "z", False), ("*x", "xxx", True),
    ("*.txt", "a.txt", True), ("*.txt", "dir/a.txt", False),
]
GO_BAD = ["[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "x*[", "ab\\"]


@pytest.mark.parametrize("pattern,name,want", GO_MATCH)
def test_go_match(pattern, name, want):
    assert gomatch.match(pattern, name) is want


@pytest.mark.parametrize("pattern", GO_BAD)
def test_go_match_bad_pattern_even_after_a_mismatch(pattern):
    with pytest.raises(gomatch.BadPattern, match="syntax error in pattern"):
        gomatch.match(pattern, "zzz")


@pytest.mark.parametrize("path,want", [
    ("", "."), ("a/", "a"), ("//a//b/", "/a/b"), ("a/../..", ".."), ("/..", "/"), ("./a/./b", "a/b"),
])
def test_clean_is_gos(path, want):
    assert gomatch.clean(path) == want


# (pattern, path, exact, or-parent) -- moby patternmatcher's table semantics
TABLE = [
    ("**", "file", True, True), ("**/", "file", True, True), ("**", "dir/file", True, True),
    ("**/**", "dir/file", True, True), ("dir/**", "dir/file", True, True),
    ("dir/**", "dir/dir2/file", True, True), ("**/dir", "dir", True, True),
    ("**/dir", "dir/file", False, True), ("**/dir2/*", "dir/dir2/file", True, True),
    ("**/dir2/**", "dir/dir2/dir3/file", True, True), ("**file", "dir/dir/file", True, True),
    ("**/file*.txt", "dir/dir/file.txt", True, True), ("**/**/*.txt2", "dir/dir/file.txt", False, False),
    ("**/*.txt", "file.txt", True, True), ("a**/*.txt", "a/dir/dir/file.txt", True, True),
    ("a/*.txt", "a/dir/file.txt", False, False), ("a/*.txt**", "a/file.txt", True, True),
    ("a[b-d]e", "ace", True, True), ("a[b-d]e", "aae", False, False), ("a[^b-d]e", "aze", True, True),
    (".*", ".foo", True, True), (".*", "foo", False, False), ("abc.def", "abcZdef", False, False),
    ("abc?def", "abcZdef", True, True), ("**/foo/bar", "dir/dir2/foo/bar", True, True),
    ("abc/**", "abc", False, False), ("**/.foo", "bar.foo", False, False),
    ("a(b)c/def", "a(b)c/def", True, True), ("a.|)$(}+{bc", "a.|)$(}+{bc", True, True),
    ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", True, True),
    ("a\\\\", "a\\", True, True), ("a\\*b", "a*b", True, True),
    ("docs", "docs/README.md", False, True), ("docs/", "docs/a/b", False, True),
    ("*", "a/b/c", False, True), ("a/b", "a/b/c/d", False, True),
]


@pytest.mark.parametrize("pattern,path,exact,parent", TABLE)
def test_pattern_table(pattern, path, exact, parent):
    pm = PatternMatcher([pattern])
    assert pm.patterns[0].match(path) is exact  # moby's MatchesExact: no parent dirs
    assert pm.matches(path) is parent
    # a walk that passes each parent's results gets the same answer as matches()
    info = None
    parts = path.split("/")
    for i in range(len(parts) - 1):
        _, info = pm.excluded("/".join(parts[:i + 1]), info)
    assert pm.excluded(path, info)[0] is parent
    assert pm.excluded(path, None)[0] is parent


@pytest.mark.parametrize("patterns,path,want", [
    (["**", "!util/docker/web"], "util/docker/web/foo", False),
    (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", True),
    (["**", "!dist/*.whl"], "dist/x-1.0-py3-none-any.whl", False),
    (["!fileutils.go", "*.go"], "fileutils.go", True),
    (["*.go", "!fileutils.go"], "fileutils.go", False),
    (["docs", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/README.md", False),
    (["docs/*", "!docs/README.md"], "docs/other", True),
    ([], "anything", False),
])
def test_exceptions(patterns, path, want):
    assert PatternMatcher(patterns).matches(path) is want


def test_legacy_matches_checks_one_parent_level_only():
    pm = PatternMatcher(["a"])
    assert pm.matches_legacy("a/b/c") is True
    pm = PatternMatcher(["*"])
    assert pm.matches_legacy("a/b/c") is True  # "a" as deep as the pattern
    pm = PatternMatcher(["b"])
    assert pm.matches_legacy("a/b/c") is False and pm.matches("a/b/c") is False
    pm = PatternMatcher(["a/b"])
    assert pm.matches_legacy("a/b/c/d") is True
    assert PatternMatcher(["*"]).matches_legacy(".") is False


def test_bad_patterns():
    with pytest.raises(BadPattern, match='illegal exclusion pattern: "!"'):
        PatternMatcher(["!"])
    with pytest.raises(BadPattern, match="syntax error in pattern"):
        PatternMatcher(["["])
    pm = PatternMatcher(["", "  ", "  docs  ", "  !docs/README.md"])
    assert [repr(p) for p in pm.patterns] == ["docs", "!docs/README.md"] and pm.exclusions


def test_read_patterns():
    text = "\ufeff# comment\n  # not a comment\n\n/abs/path\r\n!/keep\n ! spaced \n./a/../b/\n/\n!\n*.md  \n"
    assert read_patterns(text) == ["# not a comment", "abs/path", "!keep", "!spaced", "b", "/", "!", "*.md"]


def test_keep_build_files():
    assert keep_build_files(["*"], "Dockerfile") == ["*", "!.dockerignore", "!Dockerfile"]
    assert keep_build_files(["sub"], "sub/Dockerfile") == ["sub", "!sub/Dockerfile"]
    assert keep_build_files(["*"], "Dockerfile", dockerfile_from_stdin=True) == ["*", "!.dockerignore"]
    assert keep_build_files(["a"], "Dockerfile") == ["a"]


@pytest.fixture
def tree(tmp_path):
    for path in ["Dockerfile", ".dockerignore", "a.txt", "b.md", "docs/README.md", "docs/x.md",
                 "node_modules/m/index.js", "src/main.py", "src/test/t.py", "keep/deep/k"]:
        p = tmp_path / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(path)
    os.symlink("/etc", tmp_path / "link")
    return tmp_path


def test_walk_context_no_patterns(tree):
    got = list(walk_context(str(tree), []))
    assert got == [".dockerignore", "Dockerfile", "a.txt", "b.md", "docs", "docs/README.md", "docs/x.md",
                   "keep", "keep/deep", "keep/deep/k", "link", "node_modules", "node_modules/m",
                   "node_modules/m/index.js", "src", "src/main.py", "src/test", "src/test/t.py"]


def test_walk_context_patterns(tree):
    patterns = read_patterns("*\n!src\nsrc/test\n!docs/README.md\n!keep/deep/k\n")
    got = list(walk_context(str(tree), patterns))
    # docs and keep/deep themselves are excluded, but what an exception names under them is sent
    assert got == [".dockerignore", "Dockerfile", "docs/README.md", "keep/deep/k", "src", "src/main.py"]


def test_walk_context_dockerfile_elsewhere(tree):
    got = list(walk_context(str(tree), ["**/*.md", "src"], dockerfile="src/main.py"))
    assert "src/main.py" in got and "src/test/t.py" not in got and "docs/x.md" not in got
    assert "b.md" not in got and "docs" in got


def test_the_context_dockerd_saw(tmp_path):
    """ORACLE12 "dockerignore": what the docker CLI sends for this .dockerignore, after the
    daemon drops the Dockerfile it names, hashes as dockerd's `COPY . /ctx` did."""
    import shutil

    from ketch.build.context import resolve_sources, sources_hash
    from ketch.engine.builds.contexts import BuildContexts

    ignore = "*.log\n!keep.log\nsecret/\n**/*.tmp\nDockerfile\n"
    src = tmp_path / "src"
    files = {".dockerignore": ignore, "Dockerfile": "FROM busybox\nCOPY . /ctx\n", "a.txt": "A\n",
             "x.log": "L\n", "keep.log": "K\n", "secret/s": "S\n", "sub/deep/z.tmp": "T\n", "sub/ok": "O\n"}
    for path, text in files.items():
        p = src / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    sent = list(walk_context(str(src), read_patterns(ignore)))
    assert sent == [".dockerignore", "Dockerfile", "a.txt", "keep.log", "sub", "sub/deep", "sub/ok"]
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for rel in sent:  # as the daemon extracts the CLI's tar: 0:0, modes kept
        if (src / rel).is_dir():
            (ctx / rel).mkdir(mode=0o755)
        else:
            shutil.copyfile(src / rel, ctx / rel)
            os.chmod(ctx / rel, 0o644)
    BuildContexts(str(tmp_path)).dockerfile(str(ctx), "Dockerfile")  # drops the Dockerfile
    fd = os.open(ctx, os.O_PATH | os.O_DIRECTORY)
    try:
        assert sources_hash(resolve_sources(fd, ["."])) == \
            "dir:7191bc6bbd6f1a33cc650689bb3bf4fe4ec149de7e7666372cbc1d94c080a86a"
    finally:
        os.close(fd)
