"""Backtests: the live strategy code on recorded markets, on a simulated clock."""
