"""A volume: a named directory (or a mount the local driver makes) that outlives containers."""

from dataclasses import dataclass, field

LOCAL = "local"
ANONYMOUS_LABEL = "com.docker.volume.anonymous"  # moby marks anonymous volumes so (prune's default)


@dataclass(frozen=True)
class Volume:
    name: str
    driver: str  # LOCAL: the only driver
    mountpoint: str  # <data-root>/volumes/<name>/_data, where its data is seen
    created_at: str  # RFC 3339, seconds, as Docker shows CreatedAt
    labels: dict[str, str] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)  # the local driver's -o type/device/o

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in self.labels
