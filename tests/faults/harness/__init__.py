"""What the fault tests share: injectors (proxy, database, broker node, writer processes), a
workload with its ledger, the verifier, and the counts that docs/RELIABILITY.md reports."""
