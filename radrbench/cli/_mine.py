"""``radrbench mine``: reasoning chains from reports through an OpenAI-compatible LLM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from radrbench.cli._common import console, counts_table, progress_bar


def mine_command(
    bench_dir: Annotated[Path, typer.Argument(help="Benchmark directory to mine in place.")],
    llm: Annotated[
        str,
        typer.Option(
            help="openai:MODEL[@BASE_URL] (key from OPENAI_API_KEY; a local server needs none).",
            show_default=False,
        ),
    ],
    concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight at most.")] = 16,
    timeout: Annotated[float, typer.Option(help="Seconds per request attempt.")] = 120.0,
    max_retries: Annotated[int, typer.Option(min=0, help="Retries per request.")] = 4,
    seed: Annotated[int, typer.Option(help="Sampling seed sent with every request.")] = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="Mine at most N samples.")] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Also mine samples that already have a reasoning chain.")
    ] = False,
    prompts: Annotated[
        Path | None,
        typer.Option(help="Another prompt folder (default metrics/prompts/mining)."),
    ] = None,
    cache: Annotated[
        Path | None, typer.Option(help="SQLite cache of replies (default DIR/mining/cache.sqlite).")
    ] = None,
    input_price: Annotated[
        float | None, typer.Option(help="USD per million prompt tokens, for the cost.")
    ] = None,
    output_price: Annotated[
        float | None, typer.Option(help="USD per million completion tokens, for the cost.")
    ] = None,
    i_understand_data_use: Annotated[
        bool,
        typer.Option(
            "--i-understand-data-use",
            help="Allow credentialed reports (MIMIC-CXR, MS-CXR-T, CheXpert) to go to a public "
            "third-party API; only if your data use agreement permits it.",
        ),
    ] = False,
) -> None:
    """Mine plan → reasoning → refine chains for samples with a report, and check them.

    A chain is kept only if every finding it states is supported by the report, it reaches the labelled answer and it is not degenerate; rejected chains and their reasons go to DIR/mining/rejected.jsonl.

    Replies are cached (DIR/mining/cache.sqlite): run the same command again to resume a killed run without re-sending finished requests.
    """  # noqa: E501
    from radrbench.mining.miner import MiningOptions, mine_benchmark

    options = MiningOptions(
        concurrency=concurrency,
        timeout=timeout,
        max_retries=max_retries,
        seed=seed,
        limit=limit,
        overwrite=overwrite,
        prompts_dir=prompts,
        cache=cache,
        input_price=input_price,
        output_price=output_price,
        acknowledged=i_understand_data_use,
    )
    with progress_bar("mining chains", None) as bar:

        def update(done: int, total: int) -> None:
            bar.total(total)
            bar(done)

        summary = mine_benchmark(bench_dir, llm, options, progress=update)
    console.print(
        f"{bench_dir}: {summary.accepted} chains accepted, {summary.rejected} rejected, "
        f"{summary.failed} failed (of {summary.targets}; {summary.resumed} from an earlier run) "
        f"in {summary.seconds:.1f} s"
    )
    cost = f", ${summary.cost_usd:.4f}" if summary.cost_usd is not None else ""
    console.print(
        f"{summary.requests} requests ({summary.retries} retries), "
        f"{summary.cache_hits} cached replies, "
        f"{summary.prompt_tokens} prompt + {summary.completion_tokens} completion tokens{cost}"
    )
    if summary.reasons:
        console.print(counts_table("rejected chains by reason", summary.reasons, "reason"))
        console.print(f"details: {bench_dir / 'mining' / 'rejected.jsonl'}")
    if summary.failed:
        console.print("rerun the same command to retry the failed samples")
