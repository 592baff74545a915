"""Interface flags through ioctl, for processes that configure their own namespace
before anything else is there (a container's init, the fork server's children)."""

import fcntl
import struct

import _socket as socket  # the runtime's start-up: the socket module costs milliseconds

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_IFREQ = "16sH14x"


def loopback_up() -> None:
    """Bring ``lo`` of the current network namespace up (a new one starts with it down)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifreq = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0))
        flags = struct.unpack(_IFREQ, ifreq)[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | IFF_UP))
    finally:
        s.close()
