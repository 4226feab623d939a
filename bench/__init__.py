"""okxmm benchmarks: ``python -m bench`` runs them all and writes docs/perf.md."""
