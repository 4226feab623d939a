"""Floors: the bare versions of what okxmm does, written without any project code.

Each bench runs the floor it compares against in the same run and prints its figure as a ratio
to it (this VM's speed drifts 20-50 % between runs; same-run ratios do not). ``pipeline`` is the
bare 3-process tick-to-order path; the bus and feed floors live in ``bench_bus`` and
``bench_md_feed`` next to what they measure.
"""
