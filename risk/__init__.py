"""okxmm risk monitor: the original sample market maker's P&L and exposure, plus limits with
veto power and a kill switch.

Pure calculator (no I/O), in dependency order:
``inputs`` (typed OKX-shaped rows) → ``caches`` (latest account/positions/market, order-free) →
``prices`` (USD price of each currency, §6.2) → ``snapshot`` (the original's risk snapshot,
§6.3–6.4) → ``revalue`` (inception positions at today's mark, §6.5) → ``measurement``
(StrategyMeasurement, §6.6–6.8) — plus ``fills`` (fill counters, §5.3), ``pnl`` (realised /
unrealised / fees per strategy and instrument), ``open_orders``, ``limits``, ``state``
(ACTIVE/REDUCING/HALTED), ``persist`` (what survives restarts) and ``core`` (all of it composed,
fed bus messages through ``convert``). ``monitor`` is the actor shell.
"""
