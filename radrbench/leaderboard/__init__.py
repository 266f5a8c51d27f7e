"""The leaderboard: collect run summaries, rank what is comparable, and publish tables,
plots and a static site (``radrbench leaderboard add`` and ``build``)."""

from radrbench.leaderboard.build import BuildReport, build_leaderboard
from radrbench.leaderboard.results import AddedRun, add_runs, load_results

__all__ = ["AddedRun", "BuildReport", "add_runs", "build_leaderboard", "load_results"]
