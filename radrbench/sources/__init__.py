"""Build RadRBench-style benchmarks from the source datasets in their native layouts."""
