"""Images: the local store's service and the operations built on it (pull, push, save,
load, commit, prune), one module each."""
