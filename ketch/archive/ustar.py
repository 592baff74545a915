"""Plain ustar entries written without ``tarfile``: importing it (shutil, bz2, lzma...)
costs the CLI more than tarring a small build context does.

    header(name, mode, size, mtime, type, linkname="", devmajor=0, devminor=0) -> bytes
        the 512-byte header ``tarfile`` writes for the entry in PAX_FORMAT with uid/gid
        0 and no user/group names; NeedsPax when it would need a PAX record first (a
        non-ASCII or long name or link, a size or mtime out of the octal fields' range)
    padding(size) -> bytes       the zeros that fill an entry's data to a whole block

The caller falls back to ``tarfile`` on NeedsPax: these bytes are tarfile's own, byte
for byte (tests/unit/test_ustar.py compares them).
"""

BLOCKSIZE = 512
REGTYPE, LNKTYPE, SYMTYPE, CHRTYPE, BLKTYPE, DIRTYPE, FIFOTYPE = b"0", b"1", b"2", b"3", b"4", b"5", b"6"
_MAGIC = b"ustar\x0000"


class NeedsPax(Exception):
    """The entry needs a PAX extended header: write it with tarfile."""


def _text(value: str, length: int) -> bytes:
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        raise NeedsPax(value) from None
    if len(data) > length:
        raise NeedsPax(value)
    return data + b"\0" * (length - len(data))


def _octal(value: int, digits: int) -> bytes:
    if not 0 <= value < 8 ** (digits - 1):
        raise NeedsPax(value)
    return b"%0*o\0" % (digits - 1, value)


def header(name: str, mode: int, size: int, mtime: int, type: bytes, linkname: str = "",
           devmajor: int = 0, devminor: int = 0) -> bytes:
    if type == DIRTYPE and not name.endswith("/"):
        name += "/"
    devices = type in (CHRTYPE, BLKTYPE)
    buf = b"".join((
        _text(name, 100), _octal(mode & 0o7777, 8), _octal(0, 8), _octal(0, 8),
        _octal(size, 12), _octal(mtime, 12), b"        ", type, _text(linkname, 100), _MAGIC,
        b"\0" * 64,  # uname, gname
        _octal(devmajor, 8) if devices else b"\0" * 8, _octal(devminor, 8) if devices else b"\0" * 8,
        b"\0" * 155,
    ))
    buf += b"\0" * (BLOCKSIZE - len(buf))
    return buf[:148] + b"%06o\0" % sum(buf) + buf[155:]


def padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCKSIZE)
