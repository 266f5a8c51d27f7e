"""Mining's deterministic steps on real reports no one here wrote: the IU X-ray XMLs.

Reads every report XML shipped in the installed ``torchxrayvision`` wheel, joins its sections
into free text and sections it again (checked against the XML's labels), extracts findings
with the offline judge's lexicon, and validates each report's own sentences as a chain (they
must pass) and the same chain with one CheXpert finding's polarity flipped (it must fail).
Prints the counts and the time taken.

    python benchmarks/mining_iu_xray.py
"""

from __future__ import annotations

import time

from radrbench.mining.iu_xray import labelled_reports, run


def main() -> None:
    started = time.perf_counter()
    reports = labelled_reports()
    figures = run(reports)
    seconds = time.perf_counter() - started
    for line in figures.lines():
        print(line)
    print(f"own-sentence findings the check did not accept: {dict(figures.unsupported_kinds)}")
    print(f"{seconds:.1f} s ({len(reports) / seconds:.0f} reports/s)")


if __name__ == "__main__":
    main()
