"""Data generators: fill a domain's source database and apply batches of application changes.

One module per domain (`generators.marketplace`, ...), each with the same two functions:
`seed(url, scale, ...)` builds a deterministic history, `mutate(url, minutes, ...)` applies what
the application would do in the next `minutes`, so incremental syncs have something to move.
"""
