"""The radrbench task names, what each one reads, and their groups.

The YAML files in the top-level ``tasks/`` folder are what lm-eval reads; a test keeps them
in step with this table, which radrbench itself uses to plan requests without lm-eval.
"""

from __future__ import annotations

from dataclasses import dataclass

from radrbench.errors import ConfigError


@dataclass(frozen=True)
class TaskSpec:
    name: str
    source: str
    family: str
    group: str


def _spec(slug: str, source: str, family: str, group: str) -> TaskSpec:
    return TaskSpec(f"radrbench_{slug}_{family}", source, family, group)


DEMO_GROUP = "radrbench_demo"
OFFICIAL_GROUP = "radrbench_cxr"

TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        *(
            _spec("phantom", "phantom", family, DEMO_GROUP)
            for family in ("binary", "single", "multi", "multi_open", "anomaly", "temporal")
        ),
        _spec("phantom_rsna", "phantom-rsna", "binary", DEMO_GROUP),
        _spec("phantom_siim", "phantom-siim", "binary", DEMO_GROUP),
        *(
            _spec(slug, source, family, OFFICIAL_GROUP)
            for slug, source in (("mimic", "mimic-cxr"), ("chexpert", "chexpert"))
            for family in ("binary", "single", "multi", "multi_open")
        ),
        _spec("mscxrt", "ms-cxr-t", "temporal", OFFICIAL_GROUP),
        _spec("rsna", "rsna", "binary", OFFICIAL_GROUP),
        _spec("siim", "siim", "binary", OFFICIAL_GROUP),
    )
}
GROUPS: dict[str, list[str]] = {
    group: [name for name, spec in TASKS.items() if spec.group == group]
    for group in (DEMO_GROUP, OFFICIAL_GROUP)
}


def expand_tasks(names: list[str]) -> list[TaskSpec]:
    """Task specs for task and group names, in order, without repeats."""
    specs: dict[str, TaskSpec] = {}
    for name in names:
        if name in GROUPS:
            specs.update((member, TASKS[member]) for member in GROUPS[name])
        elif name in TASKS:
            specs[name] = TASKS[name]
        else:
            raise ConfigError(
                f"unknown task {name!r}",
                hint=f"groups: {', '.join(GROUPS)}; tasks: radrbench_<source>_<family>, "
                "see 'radrbench tasks'",
            )
    return list(specs.values())
