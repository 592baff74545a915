"""What a build context or an ADD source names, as moby's ``pkg/urlutil`` tells it: the
docker CLI (``ketch build URL`` sends it as ``remote=``) and the daemon (``remote=``,
``ADD <url>``) share these rules. Standard library only."""

import re

# moby 20.10's, with its unescaped dot ("https://h/xgit" is a git URL for dockerd too)
_GIT_SUFFIX = re.compile(r".git(?:#.+)?$")


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def is_git_url(text: str) -> bool:
    return (is_url(text) and _GIT_SUFFIX.search(text) is not None) \
        or text.startswith(("git://", "github.com/", "git@"))
