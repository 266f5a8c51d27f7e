"""The leaderboard as data: comparable groups of runs, their ranks, judge stability, and
the sections (tables) every output format renders.

Runs are ranked together only when they are comparable: same benchmark name and version,
same task set, same samples per task (``--limit``) and same judge (spec and version). Every
other combination is a table of its own, titled with what sets it apart from the main table
(the one with the most runs). Paper-reported rows are a table of their own and never ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from radrbench.leaderboard.ranking import (
    Contender,
    Rank,
    Statistic,
    accuracy_statistic,
    judged_columns,
    kendall_tau,
    label_f1_statistic,
    radrscore_statistic,
    shared_ranks,
)
from radrbench.leaderboard.reported import ReportedRow
from radrbench.leaderboard.results import (
    Entry,
    JudgeSamples,
    TaskSamples,
    macro_means,
    task_slug,
)
from radrbench.leaderboard.summary import RADRSCORE_PARTS, Estimate, RadrScoreGroup
from radrbench.leaderboard.tables import Cell, Column, Est, Link, RankCell, Section
from radrbench.metrics.bootstrap import FloatArray

JudgeKey = tuple[str, str]
LABELS = {
    "accuracy": "accuracy",
    "label_f1": "label F1",
    "exact_match": "exact match",
    "radrscore": "RadRScore",
    "factuality": "factuality",
    "completeness": "completeness",
    "effectiveness": "effectiveness",
}
RANK_RULE = (
    "Rank = 1 + the number of runs higher beyond the 95% bootstrap CI of the difference "
    "(paired over the same samples); '=' marks a rank shared with another run."
)


@dataclass(frozen=True)
class GroupKey:
    benchmark: str
    version: str
    tasks: tuple[str, ...]
    limit: int | None
    judge: JudgeKey | None

    @property
    def base(self) -> tuple[str, str, tuple[str, ...], int | None]:
        return (self.benchmark, self.version, self.tasks, self.limit)


def group_key(entry: Entry) -> GroupKey:
    s = entry.summary
    return GroupKey(
        s.benchmark.name,
        s.benchmark.version,
        tuple(sorted(s.tasks)),
        s.benchmark.limit,
        entry.judge_key,
    )


def judge_text(judge: JudgeKey | None) -> str:
    return "not judged" if judge is None else judge[0]


def _limit_text(limit: int | None) -> str:
    return "all samples" if limit is None else f"at most {limit} samples per task"


def _names(tasks: Sequence[str], limit: int = 3) -> str:
    shown = ", ".join(tasks[:limit])
    return shown + (f" and {len(tasks) - limit} more" if len(tasks) > limit else "")


def differences(key: GroupKey, main: GroupKey, main_title: str) -> list[str]:
    """Why a group is not ranked with the main one, one reason per differing property."""
    reasons = []
    if (key.benchmark, key.version) != (main.benchmark, main.version):
        reasons.append(
            f"benchmark {key.benchmark} {key.version} ({main_title}: {main.benchmark} "
            f"{main.version})"
        )
    if key.tasks != main.tasks:
        missing = [t for t in main.tasks if t not in key.tasks]
        extra = [t for t in key.tasks if t not in main.tasks]
        parts = [f"{len(key.tasks)} tasks ({main_title}: {len(main.tasks)})"]
        if missing:
            parts.append(f"without {_names(missing)}")
        if extra:
            parts.append(f"with {_names(extra)}")
        reasons.append("task set: " + ", ".join(parts))
    if key.limit != main.limit:
        reasons.append(f"{_limit_text(key.limit)} ({main_title}: {_limit_text(main.limit)})")
    if key.judge != main.judge:
        if key.judge is None:
            reasons.append("not judged: no RadRScore")
        elif main.judge is not None and key.judge[0] == main.judge[0]:
            reasons.append(
                f"judge {key.judge[0]} version {key.judge[1]} ({main_title}: version "
                f"{main.judge[1]})"
            )
        else:
            reasons.append(
                f"judge {judge_text(key.judge)} ({main_title}: {judge_text(main.judge)})"
            )
    return reasons


def est_cell(estimate: Estimate | None) -> Est:
    if estimate is None:
        return Est(None)
    return Est(estimate.value, estimate.ci_low, estimate.ci_high, estimate.n)


def rank_cell(ranks: dict[str, Rank], slug: str) -> RankCell:
    rank = ranks.get(slug)
    return RankCell(None) if rank is None else RankCell(rank.rank, rank.tied, rank.method)


# --- per-sample columns for the ranks ---------------------------------------------------


def _stack(
    parts: Sequence[tuple[str, tuple[str, ...], FloatArray]],
) -> tuple[tuple[str, ...], FloatArray] | None:
    """One block of per-sample rows from several tasks (ids made unique by the task)."""
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0][1], parts[0][2]
    ids = tuple(f"{task}\0{sample}" for task, task_ids, _ in parts for sample in task_ids)
    return ids, np.concatenate([values for _, _, values in parts])


def outcome_columns(
    entry: Entry, tasks: Sequence[str], kind: str
) -> tuple[tuple[str, ...], FloatArray] | None:
    parts = []
    for task in tasks:
        samples: TaskSamples | None = entry.outcomes.get(task)
        if samples is not None and samples.kind == kind:
            parts.append((task, samples.ids, samples.values))
    return _stack(parts)


def judged_samples(
    judge: JudgeSamples | None, tasks: Sequence[str]
) -> tuple[tuple[str, ...], FloatArray] | None:
    """(ids, (n, 3) sub-scores with NaN for failures) of the tasks a judge scored."""
    if judge is None:
        return None
    return _stack([(t, *judge.tasks[t]) for t in tasks if t in judge.tasks])


def _contender(
    slug: str, estimate: Estimate | None, columns: tuple[tuple[str, ...], FloatArray] | None
) -> Contender:
    value = None if estimate is None else estimate.value
    low = None if estimate is None else estimate.ci_low
    high = None if estimate is None else estimate.ci_high
    if columns is None:
        return Contender(slug, value, low, high)
    return Contender(slug, value, low, high, columns[0], columns[1])


# --- groups -----------------------------------------------------------------------------


@dataclass
class Group:
    """Runs ranked together (one table overall and one per task)."""

    id: str
    number: int
    key: GroupKey
    entries: list[Entry]
    reasons: list[str] = field(default_factory=list)
    ranks: dict[tuple[str, str], dict[str, Rank]] = field(default_factory=dict)
    """(scope, metric) -> slug -> rank; scope is "overall" or a task name."""

    @property
    def title(self) -> str:
        return f"Table {self.number}"

    @property
    def has_labels(self) -> bool:
        return any(
            e.summary.tasks[t].family == "multi_open" for e in self.entries for t in e.summary.tasks
        )

    @property
    def has_choice(self) -> bool:
        return any(
            e.summary.tasks[t].family != "multi_open" for e in self.entries for t in e.summary.tasks
        )

    @property
    def outcome_metric(self) -> str:
        return "accuracy" if self.has_choice else "label_f1"

    def describe(self) -> dict[str, str]:
        key = self.key
        fields = {
            "benchmark": key.benchmark,
            "benchmark version": key.version,
            "tasks": f"{len(key.tasks)}: {', '.join(key.tasks)}",
            "samples": _limit_text(key.limit),
            "judge": judge_text(key.judge),
            "judge version": "-" if key.judge is None else key.judge[1],
        }
        if self.reasons:
            fields["not ranked with Table 1 because"] = "; ".join(self.reasons)
        return fields


def _rank_scope(group: Group, scope: str, tasks: Sequence[str]) -> None:
    """Ranks of the group's runs on ``tasks`` (one task, or all of them for "overall")."""
    statistic: Statistic
    for metric, kind, statistic in (
        ("accuracy", "choice", accuracy_statistic),
        ("label_f1", "labels", label_f1_statistic),
    ):
        contenders = []
        for entry in group.entries:
            if scope == "overall":
                estimate = entry.summary.outcome.overall.metrics.get(metric)
            else:
                estimate = entry.summary.tasks[scope].metrics.get(metric)
            if estimate is not None and estimate.value is not None:
                contenders.append(
                    _contender(entry.slug, estimate, outcome_columns(entry, tasks, kind))
                )
        if contenders:
            group.ranks[(scope, metric)] = shared_ranks(
                contenders, statistic, scope=f"{group.id}/{scope}/{metric}"
            )
    contenders = []
    for entry in group.entries:
        result = _radrscore_group(entry, scope)
        if result is None or result.radrscore.value is None:
            continue
        judge = entry.judgments.get(entry.judge_key) if entry.judge_key else None
        samples = judged_samples(judge, tasks)
        columns = None if samples is None else (samples[0], judged_columns(samples[1]))
        contenders.append(_contender(entry.slug, result.radrscore, columns))
    if contenders:
        group.ranks[(scope, "radrscore")] = shared_ranks(
            contenders, radrscore_statistic(None), scope=f"{group.id}/{scope}/radrscore"
        )


def _radrscore_group(entry: Entry, scope: str) -> RadrScoreGroup | None:
    radrscore = entry.summary.radrscore
    if radrscore is None:
        return None
    return radrscore.overall if scope == "overall" else radrscore.by_task.get(scope)


def form_groups(entries: Sequence[Entry]) -> list[Group]:
    """Runs in comparable groups (largest first), each with why it is apart from the first."""
    by_key: dict[GroupKey, list[Entry]] = {}
    for entry in entries:
        by_key.setdefault(group_key(entry), []).append(entry)
    ordered = sorted(
        by_key.items(),
        key=lambda item: (
            -len(item[1]),
            item[0].benchmark,
            item[0].version,
            item[0].tasks,
            item[0].limit or 0,
            item[0].judge or ("", ""),
        ),
    )
    groups = [
        Group(f"table-{number}", number, key, sorted(members, key=lambda e: e.slug))
        for number, (key, members) in enumerate(ordered, 1)
    ]
    if groups:
        for group in groups[1:]:
            group.reasons = differences(group.key, groups[0].key, groups[0].title)
    return groups


def rank_groups(groups: Sequence[Group]) -> None:
    """Fill every group's ranks, overall and per task."""
    for group in groups:
        _rank_scope(group, "overall", group.key.tasks)
        for task in group.key.tasks:
            _rank_scope(group, task, [task])


def make_groups(entries: Sequence[Entry]) -> list[Group]:
    """Comparable groups of runs, ranked."""
    groups = form_groups(entries)
    rank_groups(groups)
    return groups


# --- sections ---------------------------------------------------------------------------


def model_href(slug: str) -> str:
    return f"models/{slug}.html"


def task_href(task: str) -> str:
    return f"tasks/{task_slug(task)}.html"


def _est_columns(names: Sequence[str]) -> list[Column]:
    return [Column(name, LABELS[name], "value [95% CI] and n") for name in names]


def _order(group: Group, scope: str, metric: str) -> list[Entry]:
    outcome = group.ranks.get((scope, metric), {})
    radr = group.ranks.get((scope, "radrscore"), {})

    def value(entry: Entry) -> float:
        if scope == "overall":
            est = entry.summary.outcome.overall.metrics.get(metric)
        else:
            est = entry.summary.tasks[scope].metrics.get(metric)
        return -1.0 if est is None or est.value is None else est.value

    def sort_key(entry: Entry) -> tuple[int, int, float, str]:
        a, b = outcome.get(entry.slug), radr.get(entry.slug)
        return (
            a.rank if a else 10**6,
            b.rank if b else 10**6,
            -value(entry),
            entry.summary.model.name,
        )

    return sorted(group.entries, key=sort_key)


def _lead_columns(metric: str) -> list[Column]:
    """The ranks and the run's identity, first in every ranked table."""
    return [
        Column("rank_outcome", f"rank ({LABELS[metric]})", RANK_RULE),
        Column("rank_radrscore", "rank (RadRScore)", RANK_RULE),
        Column("model", "model"),
        Column("run", "run"),
        Column("prompt_profile", "prompt", "the run's prompt profile"),
    ]


def overall_section(group: Group) -> Section:
    metric = group.outcome_metric
    outcome_names = ["accuracy", "label_f1"] if group.has_choice and group.has_labels else [metric]
    columns = [
        *_lead_columns(metric),
        *_est_columns(outcome_names),
        *_est_columns(RADRSCORE_PARTS),
        Column("parse_failures", "parse failures", "answers that could not be parsed (wrong)"),
        Column("judge_failures", "judge failures", "samples the judge failed on (excluded)"),
        Column("date", "date"),
    ]
    rows = []
    for entry in _order(group, "overall", metric):
        s = entry.summary
        row: dict[str, Cell] = {
            "rank_outcome": rank_cell(group.ranks.get(("overall", metric), {}), entry.slug),
            "rank_radrscore": rank_cell(group.ranks.get(("overall", "radrscore"), {}), entry.slug),
            "model": Link(s.model.name, model_href(entry.slug)),
            "run": s.run_id,
            "prompt_profile": s.model.prompt_profile,
            "parse_failures": s.failures.parse_failures,
            "judge_failures": s.failures.judge_failures if s.judged else None,
            "date": s.date,
        }
        for name in outcome_names:
            row[name] = est_cell(s.outcome.overall.metrics.get(name))
        overall = s.radrscore.overall if s.radrscore else None
        for name in RADRSCORE_PARTS:
            row[name] = est_cell(getattr(overall, name)) if overall else Est(None)
        rows.append(row)
    return Section(
        group.id,
        f"{group.title}: {group.key.benchmark} {group.key.version}, {len(group.key.tasks)} tasks, "
        f"judge {judge_text(group.key.judge)}",
        columns,
        rows,
        notes=[RANK_RULE],
        fields=group.describe(),
    )


def task_section(group: Group, task: str) -> Section:
    family = {e.summary.tasks[task].family for e in group.entries}
    metric = "label_f1" if family == {"multi_open"} else "accuracy"
    outcome_names = [metric, "exact_match"] if metric == "label_f1" else [metric]
    columns = [
        *_lead_columns(metric),
        *_est_columns(outcome_names),
        Column("parse_failed", "parse failures", "answers that could not be parsed (wrong)"),
        *_est_columns(RADRSCORE_PARTS),
        Column("judge_failures", "judge failures", "samples the judge failed on (excluded)"),
        Column("date", "date"),
    ]
    rows = []
    for entry in _order(group, task, metric):
        s = entry.summary
        result = s.tasks[task]
        radr = _radrscore_group(entry, task)
        row: dict[str, Cell] = {
            "rank_outcome": rank_cell(group.ranks.get((task, metric), {}), entry.slug),
            "rank_radrscore": rank_cell(group.ranks.get((task, "radrscore"), {}), entry.slug),
            "model": Link(s.model.name, model_href(entry.slug)),
            "run": s.run_id,
            "prompt_profile": s.model.prompt_profile,
            "parse_failed": result.parse_failed,
            "judge_failures": radr.judge_failures if radr else None,
            "date": s.date,
        }
        for name in outcome_names:
            row[name] = est_cell(result.metrics.get(name))
        for name in RADRSCORE_PARTS:
            row[name] = est_cell(getattr(radr, name)) if radr else Est(None)
        rows.append(row)
    return Section(
        f"{task_slug(task)}--{group.id}",
        f"{task} ({group.title}: {group.key.benchmark} {group.key.version}, judge "
        f"{judge_text(group.key.judge)})",
        columns,
        rows,
        notes=[RANK_RULE],
        fields=group.describe(),
    )


def reported_section(rows: Sequence[ReportedRow], task: str | None = None) -> Section:
    names = ["accuracy", "label_f1", *RADRSCORE_PARTS]
    columns = [
        Column("model", "model"),
        Column("citation", "reported by"),
        Column("benchmark", "benchmark"),
        Column("judge", "judge"),
        *[Column(name, LABELS[name], "as reported; CI and n not reported") for name in names],
        Column("metric_definition", "metric definition"),
        Column("note", "note"),
    ]
    out = []
    for row in rows:
        reported = row.overall if task is None else row.tasks.get(task, {})
        values = {str(name): value for name, value in reported.items()}
        if task is not None and not values:
            continue
        cells: dict[str, Cell] = {
            "model": row.model,
            "citation": Link(row.citation, row.url)
            if row.url and _is_web(row.url)
            else row.citation,
            "benchmark": row.benchmark,
            "judge": row.judge or "none",
            "metric_definition": row.metric_definition,
            "note": row.note or "",
        }
        for name in names:
            cells[name] = Est(values[name]) if name in values else None
        out.append(cells)
    return Section(
        "reported" if task is None else f"reported--{task}",
        "Reported by papers (not ranked; computed by their authors with their own protocol)",
        columns,
        out,
        notes=[
            "These numbers come from publications, not from runs radrbench computed: they are "
            "never ranked with the tables above."
        ],
    )


def _is_web(url: str) -> bool:
    return url.startswith(("https://", "http://"))


# --- judge stability --------------------------------------------------------------------


@dataclass
class JudgeStability:
    """Rankings of the same runs under each judge that scored them, and their agreement."""

    id: str
    base: tuple[str, str, tuple[str, ...], int | None]
    judges: list[JudgeKey]
    entries: list[Entry]
    values: dict[JudgeKey, dict[str, tuple[float | None, ...]]]  # judge -> slug -> (r, f, c, e)
    intervals: dict[JudgeKey, dict[str, tuple[float, float]]]
    counts: dict[JudgeKey, dict[str, int]]
    ranks: dict[JudgeKey, dict[str, Rank]]
    taus: list[tuple[JudgeKey, JudgeKey, int, dict[str, float | None]]]


def judge_stability(entries: Sequence[Entry]) -> list[JudgeStability]:
    """For each benchmark, version, task set and limit scored by two judges or more."""
    by_base: dict[tuple[str, str, tuple[str, ...], int | None], list[Entry]] = {}
    for entry in entries:
        by_base.setdefault(group_key(entry).base, []).append(entry)
    out = []
    for number, (base, members) in enumerate(sorted(by_base.items(), key=lambda kv: kv[0]), 1):
        counts: dict[JudgeKey, int] = {}
        for entry in members:
            for key in entry.judgments:
                counts[key] = counts.get(key, 0) + 1
        judges = sorted(counts, key=lambda k: (-counts[k], k))
        if len(judges) < 2:
            continue
        tasks = base[2]
        values: dict[JudgeKey, dict[str, tuple[float | None, ...]]] = {}
        intervals: dict[JudgeKey, dict[str, tuple[float, float]]] = {}
        ns: dict[JudgeKey, dict[str, int]] = {}
        ranks: dict[JudgeKey, dict[str, Rank]] = {}
        for judge in judges:
            values[judge], intervals[judge], ns[judge] = {}, {}, {}
            contenders = []
            for entry in members:
                samples = judged_samples(entry.judgments.get(judge), tasks)
                if samples is None:
                    continue
                means = macro_means(samples[1])
                values[judge][entry.slug] = means
                ns[judge][entry.slug] = len(samples[0])
                contenders.append(
                    Contender(
                        entry.slug, means[0], ids=samples[0], columns=judged_columns(samples[1])
                    )
                )
            scope = f"judges-{number}/{judge[0]}/{judge[1]}"
            ranks[judge] = shared_ranks(contenders, radrscore_statistic(None), scope=scope)
            intervals[judge] = {
                slug: interval for slug, rank in ranks[judge].items() if (interval := rank.interval)
            }
        taus = []
        for a, b in combinations(judges, 2):
            common = [slug for slug in values[a] if slug in values[b]]
            per_part: dict[str, float | None] = {}
            for index, name in enumerate(RADRSCORE_PARTS):
                pairs = [
                    (values[a][s][index], values[b][s][index])
                    for s in common
                    if values[a][s][index] is not None and values[b][s][index] is not None
                ]
                per_part[name] = kendall_tau(
                    [float(p[0]) for p in pairs if p[0] is not None],
                    [float(p[1]) for p in pairs if p[1] is not None],
                )
            taus.append((a, b, len(common), per_part))
        out.append(
            JudgeStability(
                f"judges-{number}", base, judges, members, values, intervals, ns, ranks, taus
            )
        )
    return out


def judge_label(index: int) -> str:
    return f"J{index + 1}"


def stability_sections(stability: JudgeStability) -> list[Section]:
    benchmark, version, tasks, limit = stability.base
    fields = {
        "benchmark": benchmark,
        "benchmark version": version,
        "tasks": f"{len(tasks)}: {', '.join(tasks)}",
        "samples": _limit_text(limit),
    }
    for index, judge in enumerate(stability.judges):
        fields[judge_label(index)] = f"{judge[0]} (version {judge[1]})"
    columns = [Column("model", "model"), Column("run", "run")]
    for index, _ in enumerate(stability.judges):
        label = judge_label(index)
        columns += [
            Column(f"radrscore_{label}", f"RadRScore ({label})", "value [95% CI] and n"),
            Column(f"rank_{label}", f"rank ({label})", RANK_RULE),
        ]
    first = stability.judges[0]

    def order(entry: Entry) -> tuple[int, str]:
        rank = stability.ranks[first].get(entry.slug)
        return (rank.rank if rank else 10**6, entry.summary.model.name)

    rows = []
    for entry in sorted(stability.entries, key=order):
        row: dict[str, Cell] = {
            "model": Link(entry.summary.model.name, model_href(entry.slug)),
            "run": entry.summary.run_id,
        }
        for index, judge in enumerate(stability.judges):
            label = judge_label(index)
            means = stability.values[judge].get(entry.slug)
            interval = stability.intervals[judge].get(entry.slug)
            low, high = interval if interval else (None, None)
            n = stability.counts[judge].get(entry.slug)
            row[f"radrscore_{label}"] = Est(means[0], low, high, n) if means else Est(None)
            row[f"rank_{label}"] = rank_cell(stability.ranks[judge], entry.slug)
        rows.append(row)
    rankings = Section(
        f"{stability.id}-ranks",
        f"Judge stability: {benchmark} {version}, {len(tasks)} tasks — rankings under each judge",
        columns,
        rows,
        notes=[RANK_RULE],
        fields=fields,
    )
    tau_rows: list[dict[str, Cell]] = []
    for a, b, n, per_part in stability.taus:
        tau_row: dict[str, Cell] = {
            "judges": f"{judge_label(stability.judges.index(a))} vs "
            f"{judge_label(stability.judges.index(b))}",
            "runs": n,
        }
        tau_row.update({name: per_part[name] for name in RADRSCORE_PARTS})
        tau_rows.append(tau_row)
    agreement = Section(
        f"{stability.id}-tau",
        f"Judge stability: {benchmark} {version}, {len(tasks)} tasks — rank agreement "
        "(Kendall's tau-b)",
        [
            Column("judges", "judges"),
            Column("runs", "runs scored by both"),
            *[
                Column(name, f"tau ({LABELS[name]})", "Kendall's tau-b of the runs' scores")
                for name in RADRSCORE_PARTS
            ],
        ],
        tau_rows,
        notes=[
            "Kendall's tau-b between the two judges' scores of the same runs: 1 = same order, "
            "-1 = reversed, '-' = fewer than two runs or no order."
        ],
        fields=fields,
    )
    return [rankings, agreement]
