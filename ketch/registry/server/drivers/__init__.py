"""Storage drivers: where the registry's files live (distribution's storagedriver, smaller).

    base        the StorageDriver protocol, FileInfo, PathNotFound
    filesystem  files under a directory; whole files written atomically
    inmemory    a dict, for tests and throwaway registries
"""

from ketch.registry.server.drivers.base import FileInfo, FileWriter, PathNotFound, StorageDriver

__all__ = ["FileInfo", "FileWriter", "PathNotFound", "StorageDriver"]
