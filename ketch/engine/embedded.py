"""The embedded ``busybox:latest``: built once per data root from the host's busybox-static.

ketch cannot pull from Docker Hub on an offline machine, so the daemon makes one image
of its own before the API answers (``image/embedded.py`` builds the rootfs tar). The
store's ``embedded_busybox`` meta row records that it was made; an image the user
removed later is not made again. A host without busybox-static gets a warning, not an
error: everything but ``run busybox`` still works.
"""

import asyncio
import logging
import subprocess
import tempfile

from ketch import errors, timefmt
from ketch.engine.images.service import ImageService
from ketch.engine.store import Store
from ketch.image import embedded

log = logging.getLogger("ketchd")


async def ensure(store: Store, images: ImageService) -> None:
    if store.embedded_image():
        return
    try:
        embedded.check_busybox()
    except errors.KetchError as exc:
        log.warning("no embedded busybox image: %s", exc)
        return

    def build():
        with tempfile.TemporaryFile() as buf:
            mtime = embedded.build_rootfs_tar(buf)
            buf.seek(0)
            return images.ingest_layer(buf, None), mtime

    (info, chain, snapshot), mtime = await asyncio.to_thread(build)
    image_id = images.commit_import(
        info, chain, snapshot, "busybox", "latest", embedded.CHANGES,
        f"ketch embedded image: {_busybox_version()}",
        created=timefmt.format_ns(mtime * 10**9))
    store.set_embedded_image(image_id)
    log.info("embedded image busybox:latest is %s", image_id)


def _busybox_version() -> str:
    try:
        out = subprocess.run([embedded.BUSYBOX], capture_output=True, text=True).stdout
        return out.splitlines()[0].strip()
    except (OSError, IndexError):
        return "busybox"
