"""QA call scripts: their YAML model and loading, running them on simulated callers in
batches, recording a call as a script, menu coverage, and JUnit, JSON and HTML reports.

It may import `ivr.sim`, `ivr.menu`, `ivr.core` and `ivr.errors`; never the web or the store.
"""
