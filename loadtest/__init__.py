"""The load test and benchmark (`porch-loadtest`): concurrent pushes and renders, verified.

Modules: `workload` (names, seeded plans), `content` (bodies, write-id trailers, render),
`actors` (server and render actors), `modes/` (the four write paths), `pacing` (rate, budget),
`ledger` (every write), `verify` (the end-of-run proof), `stats` and `report`,
`writers_process` (the writer subprocesses), `runner` (one run), `cli`.
"""
