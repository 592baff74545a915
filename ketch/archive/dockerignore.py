"""``.dockerignore``: which files of a build context are sent, as Docker decides it.

API (stdlib only; the CLI tars the context with it, the daemon applies it again)::

    read_patterns(text) -> list[str]            moby ignorefile.ReadAll: comments, "/" cleaning
    PatternMatcher(patterns)                    moby patternmatcher.New; BadPattern if malformed
      .matches(path) -> bool                    MatchesOrParentMatches ("a/b" excluded by "a")
      .matches_legacy(path) -> bool             the deprecated Matches (one parent level), which
                                                the classic builder's daemon still uses
      .excluded(path, parent) -> (bool, MatchInfo)
                                                MatchesUsingParentResults, for walks: pass the
                                                parent dir's MatchInfo (None at the top)
      .exclusions                               any "!" pattern?
    keep_build_files(patterns, dockerfile, dockerfile_from_stdin=False) -> list[str]
                                                docker CLI's TrimBuildFilesFromExcludes: the
                                                Dockerfile and .dockerignore are always sent
    walk_context(root, patterns, dockerfile="Dockerfile", dockerfile_from_stdin=False)
        -> Iterator[str]                        the relative paths ("a", "a/b") the docker CLI
                                                puts in the context tar, in its order (lexical,
                                                parents first, symlinks not followed)

Patterns are Go's ``filepath.Match`` plus ``**`` (any number of directories), matched
against slash-separated paths relative to the context; a later ``!pattern`` re-includes.
``matches`` is true when the path is excluded.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ketch.archive.gomatch import BadPattern, clean, match as go_match

__all__ = ["BadPattern", "MatchInfo", "Pattern", "PatternMatcher", "keep_build_files",
           "read_patterns", "walk_context"]


def read_patterns(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` file's text (ignorefile.ReadAll): ``#`` lines
    are comments (only at the very start of a line), blank lines skipped, each pattern
    cleaned and made relative (a leading ``/`` dropped), ``!`` kept in front."""
    out = []
    for n, line in enumerate(text.split("\n")):
        if line.endswith("\r"):  # Go's bufio.ScanLines drops a \r before the \n
            line = line[:-1]
        if n == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


@dataclass(frozen=True)
class MatchInfo:
    """Per pattern, whether a directory matched it (so its children match it too)."""
    parent_matched: tuple[bool, ...] = ()


class Pattern:
    """One cleaned pattern, compiled on first use as moby does (exact, prefix ``a/**``,
    suffix ``**/a`` or a regular expression)."""

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text = text
        self.exclusion = exclusion
        self.dirs = text.split("/")
        self._kind, self._re = _compile(text)

    def __repr__(self) -> str:
        return ("!" if self.exclusion else "") + self.text

    def match(self, path: str) -> bool:
        kind, text = self._kind, self.text
        if kind == "exact":
            return path == text
        if kind == "prefix":
            return path.startswith(text[:-2])
        if kind == "suffix":
            suffix = text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        return self._re.match(path) is not None


_ESCAPE = set(".+()|{}$")


def _compile(pattern: str) -> tuple[str, "re.Pattern[str] | None"]:
    regex = "^"
    kind = "exact"
    i, n = 0, len(pattern)
    first = True
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":  # "**/" is "**"
                    i += 1
                if i >= n:  # "**" at the end: anything, as .gitignore
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        regex += ".*"
                        kind = "regexp"
                else:
                    regex += "(.*/)?"
                    kind = "regexp"
                if first:
                    kind = "suffix"
            else:
                regex += "[^/]*"
                kind = "regexp"
        elif ch == "?":
            regex += "[^/]"
            kind = "regexp"
        elif ch in _ESCAPE:
            regex += "\\" + ch
        elif ch == "\\":
            if i < n:
                regex += "\\" + pattern[i]
                i += 1
                kind = "regexp"
            else:
                regex += "\\\\"
        elif ch in "[]":
            regex += ch
            kind = "regexp"
        else:
            regex += ch
        first = False
    if kind != "regexp":
        return kind, None
    try:
        return kind, re.compile(regex + r"\Z")
    except re.error:
        raise BadPattern() from None


class PatternMatcher:
    def __init__(self, patterns: list[str] | tuple[str, ...]) -> None:
        self.patterns: list[Pattern] = []
        self.exclusions = False
        for p in patterns:
            p = p.strip()
            if not p:
                continue
            p = clean(p)
            exclusion = p[0] == "!"
            if exclusion:
                if len(p) == 1:
                    raise BadPattern('illegal exclusion pattern: "!"')
                p = p[1:]
                self.exclusions = True
            go_match(p, ".")  # Go's syntax check: raises BadPattern
            self.patterns.append(Pattern(p, exclusion))

    def matches(self, path: str) -> bool:
        """MatchesOrParentMatches: ``path`` or one of its parent directories matches."""
        def parents(pattern: Pattern, dirs: list[str]) -> bool:
            return any(pattern.match("/".join(dirs[:i + 1])) for i in range(len(dirs)))
        return self._match(path, parents)

    def matches_legacy(self, path: str) -> bool:
        """moby's deprecated ``fileutils.Matches``: only the parent prefix as deep as the
        pattern is checked ("." never matches). The classic builder's daemon removes an
        ignored Dockerfile and .dockerignore from the context with it."""
        path = clean(path)
        if path == ".":
            return False

        def parents(pattern: Pattern, dirs: list[str]) -> bool:
            return len(pattern.dirs) <= len(dirs) and pattern.match("/".join(dirs[:len(pattern.dirs)]))
        return self._match(path, parents)

    def _match(self, path: str, parents) -> bool:
        """The last pattern that matches ``path`` (or, as ``parents(pattern, dirs)`` tells,
        its parent directories) decides; an exclusion brings it back."""
        matched = False
        parent = os.path.dirname(path) or "."
        parent_dirs = parent.split("/")
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            if pattern.match(path) or (parent != "." and parents(pattern, parent_dirs)):
                matched = not pattern.exclusion
        return matched

    def excluded(self, path: str, parent: "MatchInfo | None" = None) -> tuple[bool, MatchInfo]:
        """MatchesUsingParentResults: like ``matches`` but reusing the parent directory's
        results (its MatchInfo, or None for a path whose parent is the context root)."""
        parent_matched = parent.parent_matched if parent else ()
        matched = False
        info = []
        for i, pattern in enumerate(self.patterns):
            hit = parent_matched[i] if parent_matched else False
            if not hit:
                if pattern.exclusion != matched:
                    info.append(False)
                    continue
                hit = pattern.match(path)
                if not hit and not parent_matched:
                    ppath = os.path.dirname(path) or "."
                    if ppath != ".":
                        dirs = ppath.split("/")
                        hit = any(pattern.match("/".join(dirs[:j + 1])) for j in range(len(dirs)))
            info.append(hit)
            if hit:
                matched = not pattern.exclusion
        return matched, MatchInfo(tuple(info))


def keep_build_files(patterns: list[str], dockerfile: str = "Dockerfile",
                     dockerfile_from_stdin: bool = False) -> list[str]:
    """The docker CLI always sends ``.dockerignore`` and the Dockerfile, even when the
    patterns exclude them (the daemon reads both, then drops them if excluded)."""
    out = list(patterns)
    if PatternMatcher(out).matches(".dockerignore"):
        out.append("!.dockerignore")
    if not dockerfile_from_stdin and PatternMatcher(out).matches(dockerfile):
        out.append("!" + dockerfile)
    return out


def walk_context(root: str, patterns: list[str], dockerfile: str = "Dockerfile",
                 dockerfile_from_stdin: bool = False) -> Iterator[str]:
    """The relative paths of ``root`` the docker CLI sends (archive.TarWithOptions with
    the patterns after ``keep_build_files``): lexical order, a directory before its
    content, excluded directories skipped whole unless a ``!`` pattern names something
    under them. Symlinks are sent as links, never followed."""
    matcher = PatternMatcher(keep_build_files(patterns, dockerfile, dockerfile_from_stdin))
    yield from _walk(root, "", None, matcher)


def _walk(root: str, rel: str, parent: MatchInfo | None, matcher: PatternMatcher) -> Iterator[str]:
    try:
        names = sorted(os.listdir(os.path.join(root, rel) if rel else root))
    except OSError:
        return  # moby logs and goes on: what cannot be read is not sent
    for name in names:
        path = f"{rel}/{name}" if rel else name
        is_dir = os.path.isdir(os.path.join(root, path)) and not os.path.islink(os.path.join(root, path))
        skip, info = matcher.excluded(path, parent)
        if skip:
            if not is_dir:
                continue
            if not matcher.exclusions:
                continue
            prefix = path + "/"
            if not any(p.exclusion and (p.text + "/").startswith(prefix) for p in matcher.patterns):
                continue
        else:
            yield path
        if is_dir:
            yield from _walk(root, path, info, matcher)
