"""fvbommel/sortorder's NaturalLess as a sort key: runs of digits compare as numbers.

docker/cli sorts ``network ls`` by name and ``port``'s lines with it: "net9" before
"net10", "53/udp -> ..." before "100/tcp -> ...". Strings compare byte by byte; a digit
sorts before any other byte; equal numbers with fewer leading zeros come first; a string
that is a prefix of another comes first.
"""


def natural_key(text: str) -> list[tuple]:
    data = text.encode("utf-8", "surrogateescape")
    key, i, n = [], 0, len(data)
    while i < n:
        if 0x30 <= data[i] <= 0x39:
            start = i
            while i < n and data[i] == 0x30:
                i += 1
            digits = i
            while i < n and 0x30 <= data[i] <= 0x39:
                i += 1
            key.append((0, i - digits, data[digits:i], digits - start))
        else:
            key.append((1, data[i]))
            i += 1
    return key
