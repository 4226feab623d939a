"""okxmm ops.exchange package."""
