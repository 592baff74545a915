"""Heredoc words in a Dockerfile line: ``<<EOF``, ``<<-EOF``, ``3<<'EOF'``, ``<< EOF``.

buildkit's ``heredocsFromLine`` and ``ParseHeredoc``: the line is split into words with
quotes, escapes and ``$`` kept as written (``<<`` keeps the spaces after it, so ``<< EOF``
is one word); a word ``[fd]<<[-]NAME`` names a heredoc when NAME is one word once its
quotes are removed. A quoted name (``<<'EOF'``, ``<<E"O"F``) means the body is not
expanded. The body lines themselves are read by ``build.reader``.
"""

import re
from dataclasses import dataclass

from ketch.build.shell_lex import is_space

_HEREDOC = re.compile(r"^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$", re.DOTALL)
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)


@dataclass(frozen=True)
class HeredocWord:
    name: str
    expand: bool
    chomp: bool
    fd: int = 0


def parse_heredoc(word: str) -> HeredocWord | None:
    """The heredoc a word names (``<<-'EOF'``), None if it names none."""
    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    unquoted = _unquote(m.group(3))
    if unquoted is None:
        return None
    name, quoted = unquoted
    return HeredocWord(name, not quoted, m.group(2) == "-", int(m.group(1) or 0))


def heredocs_in(line: str) -> list[HeredocWord]:
    return [h for word in _raw_words(line) if (h := parse_heredoc(word)) is not None]


def chomp(content: str) -> str:
    """``<<-``: leading tabs removed from every line."""
    return _LEADING_TABS.sub("", content)


def _raw_words(line: str) -> list[str]:
    """The words of ``line``, quotes and escapes kept (buildkit's lexer with RawQuotes,
    RawEscapes and SkipUnsetEnv); an unterminated quote: no words, as buildkit ignores
    that error."""
    words, word, in_word, i = [], "", False, 0
    while i < len(line):
        ch = line[i]
        if ch in "'\"":
            end = _quote_end(line, i)
            if end < 0:
                return []
            word, in_word, i = word + line[i:end + 1], True, end + 1
            continue
        if ch == "<" and line.startswith("<<", i):
            j = i + 2
            while j < len(line) and line[j] in " \t\r\n":
                j += 1
            word, in_word, i = word + line[i:j], True, j
            continue
        if ch == "\\":
            word, in_word, i = word + line[i:i + 2], True, i + 2
            continue
        if is_space(ch):
            if in_word and word:
                words.append(word)
            word, in_word = "", False
        else:
            word, in_word = word + ch, True
        i += 1
    if word:
        words.append(word)
    return words


def _quote_end(text: str, start: int) -> int:
    """The index of the quote closing the one at ``start``, -1 if none ("..." knows \\)."""
    quote_ch, i = text[start], start + 1
    while i < len(text):
        if text[i] == quote_ch:
            return i
        if quote_ch == '"' and text[i] == "\\":
            i += 1
        i += 1
    return -1


def _unquote(text: str) -> tuple[str, bool] | None:
    """The name with its quotes and escapes removed, and whether it had quotes; None when
    it is not one word (``<<EOF sh``) or a quote is not closed."""
    out, quoted, i = "", False, 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            end = _quote_end(text, i)
            if end < 0:
                return None
            body = text[i + 1:end]
            if ch == '"':
                body = re.sub(r'\\([\\"$])', r"\1", body)
            out, quoted, i = out + body, True, end + 1
            continue
        if ch == "\\":
            out, i = out + text[i + 1:i + 2], i + 2
            continue
        if is_space(ch):
            if text[i:].strip():
                return None
            break
        out += ch
        i += 1
    return out, quoted
