"""The build cache as the API shows it: ``GET /system/df``'s ``BuildCache`` rows."""

from ketch.api.versions import at_least
from ketch.build.request import CacheRecord


def cache_json(record: CacheRecord, api_version: str | None) -> dict:
    """moby's types.BuildCache; before API 1.42 one ``Parent`` instead of ``Parents``."""
    doc = {"ID": record.id}
    if at_least(api_version, "1.42"):
        doc["Parents"] = list(record.parents) or None
    else:
        doc["Parent"] = record.parents[0] if record.parents else ""
    doc.update({"Type": record.type, "Description": record.description, "InUse": record.in_use,
                "Shared": record.shared, "Size": record.size, "CreatedAt": record.created_at,
                "LastUsedAt": record.last_used_at, "UsageCount": record.usage_count})
    return doc
