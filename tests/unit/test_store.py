"""engine/store.py's meta rows: what the daemon used to read and write with its own SQL."""

from ketch.engine.store import Store


def test_embedded_image_is_remembered_across_opens(tmp_path):
    path = str(tmp_path / "ketch.db")
    store = Store(path)
    assert store.embedded_image() is None
    store.set_embedded_image("sha256:aa")
    store.set_embedded_image("sha256:bb")  # replaced, not duplicated
    store.close()
    again = Store(path)
    assert again.embedded_image() == "sha256:bb"
    again.close()
