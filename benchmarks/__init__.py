"""Reproducible performance runs of obsarchive.

One entry point per benchmark, each runnable as ``python -m benchmarks.<name>``:

``seed``
    Fill an archive database with N realistic synthetic frames by bulk loading (PostgreSQL
    COPY, SQLite ``executemany``), producing the rows the real ingest would.
``queries``
    Latency percentiles and throughput of the standard search/detail/aggregate requests over
    HTTP, against any OCS-compatible archive (``--api-root``/``--token``) or a local one.
``ingest``
    End-to-end ingest rate from ``publish`` to archived, with the machine's bound for the same
    bytes and the workers' peak memory.

Two tools go with them: ``python -m benchmarks.explain`` prints the SQL and query plans of
archive requests, and ``python -m benchmarks.report`` turns results files into the markdown
tables of ``docs/performance.md``.

Every benchmark prints a table and writes ``benchmarks/results/<name>-<timestamp>.json``;
``--tiny`` runs a small version in well under a minute (used by ``tests/test_benchmarks.py``).
Results and the commands that produced them are in ``docs/performance.md``.
"""
