"""safepath.open_in_root answers the same through the kernel's openat2(RESOLVE_IN_ROOT)
as through its own descriptor walk (kept for kernels before 5.6 and for the cases the
kernel hands back: a rename race, chains of more than 40 links)."""

import os

import pytest

from ketch.linux import safepath

CASES = [
    ("/abs/passwd", True, "etc/passwd"),
    ("/up/etc", True, "etc"),  # .. stops at the root
    ("/../../etc/link", True, "etc/passwd"),
    ("/etc/link", False, "etc/link"),
    ("/abs/", False, "etc"),  # a trailing "/" follows
    ("/abs/.", False, "etc"),
    ("/chain/passwd", True, "etc/passwd"),  # 50 links: past the kernel's 40
    ("/host/secret", True, FileNotFoundError),  # a host path means that path inside
    ("/etc/passwd/", True, NotADirectoryError),
    ("/etc/passwd/x", True, NotADirectoryError),
    ("/missing/x", True, FileNotFoundError),
    ("", False, ""),  # the root itself
    ("/", True, ""),
    ("..", True, ""),
]


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("host\n")
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../../..", root / "up")
    os.symlink(str(tmp_path / "outside"), root / "host")
    os.symlink("passwd", root / "etc" / "link")
    os.symlink("/etc", root / "l0")
    for i in range(1, 50):
        os.symlink(f"/l{i - 1}", root / f"l{i}")
    os.symlink("/l49", root / "chain")
    return root


@pytest.mark.parametrize("kernel", [True, False], ids=["openat2", "walk"])
@pytest.mark.parametrize("path,follow,expect", CASES)
def test_same_answer_both_ways(root, monkeypatch, kernel, path, follow, expect):
    monkeypatch.setattr(safepath, "_openat2", kernel)
    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        if isinstance(expect, type):
            with pytest.raises(expect) as info:
                safepath.open_in_root(rfd, path, follow=follow)
            assert info.value.filename == path
            return
        fd = safepath.open_in_root(rfd, path, follow=follow)
        try:
            assert os.readlink(f"/proc/self/fd/{fd}") == str(root / expect if expect else root)
            assert os.get_inheritable(fd) is False
        finally:
            os.close(fd)
    finally:
        os.close(rfd)
