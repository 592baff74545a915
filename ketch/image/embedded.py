"""The embedded ``busybox`` image, built offline from Debian's busybox-static.

The rootfs is laid out like Docker's official busybox image (every applet a hard link
to /bin/busybox, the same /etc/passwd and /etc/group) and written as a deterministic
tar: every entry root-owned and dated to the busybox binary's own mtime, which comes
from the Debian package. The same package version therefore gives the same layer, the
same config and the same image id on every machine.
"""

import os
import shutil
import struct
import subprocess
import tempfile

from ketch.errors import FailedPrecondition
from ketch.image.archive import write_tar

BUSYBOX = "/bin/busybox"
REFERENCE = "busybox:latest"
CHANGES = ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["sh"]']

PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
"""
_DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755,
         "root": 0o700, "sys": 0o755, "tmp": 0o1777, "usr": 0o755, "usr/sbin": 0o755,
         "var": 0o755, "var/spool": 0o755, "var/spool/mail": 0o755, "var/www": 0o755}


def is_static_elf(path: str) -> bool:
    """True for an ELF executable without a PT_INTERP header (no dynamic loader needed)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
            return False
        endian = "<" if head[5] == 1 else ">"
        phoff, = struct.unpack_from(endian + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(endian + "HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return all(struct.unpack_from(endian + "I", table, i * phentsize)[0] != 3 for i in range(phnum))


def check_busybox(path: str = BUSYBOX) -> None:
    if not os.path.exists(path):
        raise FailedPrecondition(f"{path} not found: install Debian's busybox-static")
    if not is_static_elf(path):
        raise FailedPrecondition(f"{path} is not statically linked: install busybox-static")


def build_rootfs_tar(out, path: str = BUSYBOX) -> int:
    """Write the image's layer tar to ``out``; returns the timestamp used (the image date)."""
    check_busybox(path)
    mtime = int(os.stat(path).st_mtime)
    applets = subprocess.run([path, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    with tempfile.TemporaryDirectory(prefix="ketch-busybox-") as root:
        for d, mode in sorted(_DIRS.items()):
            os.makedirs(os.path.join(root, d), exist_ok=True)
            os.chmod(os.path.join(root, d), mode)
        binary = os.path.join(root, "bin", "busybox")
        shutil.copyfile(path, binary)
        os.chmod(binary, 0o755)
        for applet in sorted(set(applets) - {"busybox"}):
            if "/" not in applet:
                os.link(binary, os.path.join(root, "bin", applet))
        for name, text in (("passwd", PASSWD), ("group", GROUP)):
            with open(os.path.join(root, "etc", name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(root, "etc", name), 0o644)
        write_tar(root, out, mtime=mtime, uid=0, gid=0)
    return mtime
