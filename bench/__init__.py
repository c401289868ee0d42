"""Benchmarks: each module measures one question on this machine and writes bench/out/<name>.json."""
