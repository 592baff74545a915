"""``POST /build`` and ``POST /build/prune``, as docker's Go client sends them
(``imageBuildOptionsToQuery``). A mixin of ``APIClient``."""

from ketch import fastjson
from ketch.client.http import Response, filters_query


class BuildAPI:
    def build(self, chunks, query: dict, headers: dict | None = None) -> Response:
        """The context (an iterable of tar chunks, or None) sent; the response is the
        build's JSON stream, read as it comes."""
        hdrs = {"Content-Type": "application/x-tar", **(headers or {})}
        return self.request("POST", "/build", query, body=chunks, headers=hdrs,
                            conn=self.new_connection())

    def prune_build_cache(self, all: bool = False, filters: dict | None = None,
                          keep_storage: int = 0) -> dict:
        query = {"all": "1" if all else None, "filters": filters_query(filters),
                 "keep-storage": str(keep_storage)}
        return self.request("POST", "/build/prune", query).json() or {}


def build_query(*, tags=(), dockerfile: str = "", quiet: bool = False, remote: str = "",
                no_cache: bool = False, rm: bool = True, force_rm: bool = False, pull: bool = False,
                network: str = "", build_args: dict | None = None, labels: dict | None = None,
                cache_from=(), target: str = "", platform: str = "", extra_hosts=(),
                shm_size: int = 0, memory: int = 0, memory_swap: int = 0, cpu_shares: int = 0,
                cpu_period: int = 0, cpu_quota: int = 0, cpuset_cpus: str = "", cpuset_mems: str = "",
                cgroup_parent: str = "", ulimits=(), isolation: str = "", security_opt=(),
                no_cache_filter=(), source_date_epoch: str = "", allow=()) -> dict:
    """The query docker's client builds, plus ketch's own ``nocachefilter``,
    ``sourcedateepoch`` and ``allow`` (only when used)."""
    query = {
        "t": list(tags) or None, "securityopt": list(security_opt) or None,
        "extrahosts": list(extra_hosts) or None, "q": "1" if quiet else None,
        "remote": remote or None, "nocache": "1" if no_cache else None, "rm": "1" if rm else "0",
        "forcerm": "1" if force_rm else None, "pull": "1" if pull else None,
        "isolation": isolation or None,
        "cpusetcpus": cpuset_cpus, "networkmode": network, "cpusetmems": cpuset_mems,
        "cpushares": str(cpu_shares), "cpuquota": str(cpu_quota), "cpuperiod": str(cpu_period),
        "memory": str(memory), "memswap": str(memory_swap), "cgroupparent": cgroup_parent,
        "shmsize": str(shm_size), "dockerfile": dockerfile, "target": target,
        "ulimits": fastjson.dumps(list(ulimits)) if ulimits else "null",
        "buildargs": fastjson.dumps(build_args or {}), "labels": fastjson.dumps(labels or {}),
        "cachefrom": fastjson.dumps(list(cache_from)) if cache_from else "null",
        "platform": platform.lower() or None, "version": "1",
        "nocachefilter": list(no_cache_filter) or None,
        "sourcedateepoch": source_date_epoch or None,
        "allow": list(allow) or None,
    }
    return {k: v for k, v in query.items() if v is not None}
