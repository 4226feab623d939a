"""okxmm risk package."""
