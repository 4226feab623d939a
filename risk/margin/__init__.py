"""Margin math, pure: multi-currency margin (``acctLv`` 3) in ``multicurrency``, its stress
table and liquidation price in ``stress``, a simplified portfolio margin (``acctLv`` 4) in
``portfolio``, the tier tables all of them (and the local exchange) share in ``tiers``."""
