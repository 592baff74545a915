"""Which stages a build needs and what each waits for.

moby's classic builder runs every stage up to the target, one after the other. Here a
stage is built only if the target needs it (its FROM names it, a ``COPY --from`` or
``RUN --mount from=`` names it, by name or index, or a stage it needs does), and each
waits only for the stages it names: independent stages run at the same time.

A name refers to a stage only if that stage comes earlier in the file (moby looks
among the stages already built); any other word is an image reference.
"""

from dataclasses import dataclass

from ketch.build import instructions as ins
from ketch.build.shell_lex import ProcessWord
from ketch.errors import InvalidArgument


@dataclass(frozen=True)
class Plan:
    needed: tuple[int, ...]  # stage indices to build, in file order
    deps: dict[int, frozenset[int]]  # stage index -> earlier stages it waits for
    target: int


def earlier_stage(stages: tuple[ins.Stage, ...], current: int, ref: str) -> int | None:
    """The index of the earlier stage ``ref`` names (by name, any case, or by number)."""
    lowered = ref.lower()
    for i in range(current):
        if stages[i].name and stages[i].name.lower() == lowered:
            return i
    try:
        n = int(ref, 10)
    except ValueError:
        return None
    return n if 0 <= n < current else None


def _references(stage: ins.Stage, base: str, meta_env: list[str], escape: str) -> list[str]:
    """What the stage names: its base, COPY --from (as written: dockerd 20.10 does not
    expand it), RUN --mount from= (expanded, as BuildKit; here with the meta ARGs)."""
    refs = [base]
    for instr in stage.commands:
        if isinstance(instr, ins.CopyInstr) and instr.from_:
            refs.append(instr.from_)
        elif isinstance(instr, ins.RunInstr):
            refs.extend(ProcessWord(m.from_, meta_env, escape) for m in instr.mounts if m.from_)
    return refs


def duplicate_name(stages: tuple[ins.Stage, ...], index: int) -> bool:
    """Whether an earlier stage has this stage's name (moby fails when it reaches it)."""
    name = stages[index].name.lower()
    return bool(name) and any(s.name.lower() == name for s in stages[:index])


def target_index(stages: tuple[ins.Stage, ...], target: str) -> int:
    if not target:
        return len(stages) - 1
    for i, stage in enumerate(stages):
        if stage.name and stage.name.lower() == target.lower():
            return i
    raise InvalidArgument(f"failed to reach build target {target} in Dockerfile")


def plan(stages: tuple[ins.Stage, ...], target: str, meta_env: list[str],
         escape: str = "\\") -> Plan:
    """``meta_env``: the meta ARGs as KEY=value, for the FROM names that use them."""
    last = target_index(stages, target)
    deps: dict[int, frozenset[int]] = {}
    for i, stage in enumerate(stages[:last + 1]):
        base = ProcessWord(stage.base, meta_env, escape)
        found = {earlier_stage(stages, i, ref) for ref in _references(stage, base, meta_env, escape)}
        deps[i] = frozenset(j for j in found if j is not None)
    duplicate = next((i for i in range(last + 1) if duplicate_name(stages, i)), None)
    if duplicate is not None:  # fails when reached: the stages before it run first, as in moby
        return Plan(tuple(range(duplicate + 1)), {i: deps[i] for i in range(duplicate + 1)}, last)
    needed, todo = set(), [last]
    while todo:
        i = todo.pop()
        if i not in needed:
            needed.add(i)
            todo.extend(deps[i])
    return Plan(tuple(sorted(needed)), {i: deps[i] for i in needed}, last)
