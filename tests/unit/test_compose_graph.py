"""ketch.compose.graph: start/stop order, dependencies, dependents, cycles."""

import pytest

from ketch.compose import graph
from ketch.compose.errors import LoadError
from ketch.compose.model import DependsOn, Project, Service


def project(deps: dict[str, list[str]], disabled=(), optional=()) -> Project:
    services = {}
    for name, on in deps.items():
        services[name] = Service(name=name, image="busybox", depends_on={
            d: DependsOn(required=(name, d) not in optional) for d in on})
    dis = {n: Service(name=n, image="busybox", profiles=["debug"]) for n in disabled}
    return Project(name="p", working_dir="/p", services=services, disabled_services=dis)


def test_start_order_dependencies_first_ties_in_declaration_order():
    p = project({"web": ["api"], "api": ["db", "cache"], "cache": [], "db": [], "tool": []})
    assert graph.start_order(p) == ["cache", "db", "tool", "api", "web"]
    assert graph.levels(p) == [["cache", "db", "tool"], ["api"], ["web"]]
    assert graph.stop_order(p) == ["web", "api", "tool", "db", "cache"]


def test_restricted_to_services():
    p = project({"web": ["api"], "api": ["db"], "db": []})
    assert graph.start_order(p, ["web", "db"]) == ["db", "web"]


def test_dependencies_and_dependents():
    p = project({"web": ["api"], "api": ["db"], "db": [], "other": ["db"]})
    assert graph.dependencies(p, ["web"]) == ["db", "api"]
    assert graph.dependencies(p, ["web"], recursive=False) == ["api"]
    assert graph.with_dependencies(p, ["web"]) == ["db", "api", "web"]
    assert graph.dependents(p, ["db"]) == ["api", "other", "web"]
    assert graph.dependents(p, ["db"], recursive=False) == ["api", "other"]


def test_cycle():
    p = project({"a": ["b"], "b": ["c"], "c": ["a"]})
    with pytest.raises(LoadError, match="dependency cycle detected: a -> b -> c -> a"):
        graph.check_cycle(p)
    with pytest.raises(LoadError, match="dependency cycle detected"):
        graph.start_order(p)


def test_self_cycle():
    with pytest.raises(LoadError, match="dependency cycle detected: a -> a"):
        graph.check_cycle(project({"a": ["a"]}))


def test_unknown_and_disabled_dependencies():
    with pytest.raises(LoadError, match='service "web" depends on unknown service "db"'):
        graph.start_order(project({"web": ["db"]}))
    with pytest.raises(LoadError, match=r'service "db" is required by "web" but is disabled. '
                                        r'Can be enabled by profiles \[debug\]'):
        graph.start_order(project({"web": ["db"]}, disabled=["db"]))
    assert graph.start_order(project({"web": ["db"]}, optional=[("web", "db")])) == ["web"]
