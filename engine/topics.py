"""Topic names, built only here. Every topic ends in ``|`` so ``BTC-USDT|`` never matches
``BTC-USDT-SWAP|`` under ZeroMQ's prefix matching."""

from __future__ import annotations

__all__ = [
    "ACCOUNT",
    "ACCOUNT_CONFIG",
    "BOOKS",
    "BOOK_STATES",
    "FILLS",
    "HEARTBEAT",
    "INSTRUMENTS",
    "MARGIN",
    "MARKS",
    "ORDERS",
    "ORDER_EVENTS",
    "POSITIONS",
    "RECENT_FILLS",
    "RISK",
    "RISK_LIMITS",
    "RISK_STATES",
    "STRATEGY_STATUSES",
    "STREAMS",
    "TICKERS",
    "actor",
    "book",
    "book_state",
    "fill",
    "instrument",
    "mark",
    "order",
    "order_event",
    "order_event_of",
    "position",
    "positions_of",
    "recent_fills",
    "risk_limits",
    "risk_state",
    "strategy_status",
    "stream",
    "ticker",
    "trade",
]

HEARTBEAT = "hb|"
ACCOUNT = "acct|"
ACCOUNT_CONFIG = "acctcfg|"  # the account's mode (acctLv, posMode); not under ``acct|``
RISK = "risk|"
MARGIN = "margin|"  # MarginState, retained (the margin actor)

# family prefixes, for subscribers that want every topic of a kind
BOOKS = "book|"
BOOK_STATES = "bookstate|"
TICKERS = "ticker|"
MARKS = "mark|"
INSTRUMENTS = "inst|"
POSITIONS = "pos|"
ORDERS = "order|"
FILLS = "fill|"
STREAMS = "stream|"
ORDER_EVENTS = "ord|"
STRATEGY_STATUSES = "strat|"
RISK_STATES = "riskstate|"
RISK_LIMITS = "risklimits|"
RECENT_FILLS = "recentfills|"  # private-gw's ring of recent fills, one topic per slot


def recent_fills(slot: int) -> str:
    return f"{RECENT_FILLS}{slot}|"


def book(inst: str) -> str:
    return f"book|{inst}|"


def book_state(inst: str) -> str:
    return f"bookstate|{inst}|"


def trade(inst: str) -> str:
    return f"trade|{inst}|"


def ticker(inst: str) -> str:
    return f"ticker|{inst}|"


def mark(inst: str) -> str:
    return f"mark|{inst}|"


def instrument(inst: str) -> str:
    return f"inst|{inst}|"


def position(inst: str, mgn_mode: str = "cross", pos_side: str = "net") -> str:
    return f"pos|{inst}|{mgn_mode}|{pos_side}|"


def market_of(inst: str) -> list[str]:
    """Every md-feed prefix of one instrument: what a worker quoting it subscribes to."""
    return [book(inst), book_state(inst), instrument(inst), trade(inst), mark(inst), ticker(inst)]


def positions_of(inst: str) -> str:
    """Prefix of every position topic of ``inst`` (any margin mode and side)."""
    return f"pos|{inst}|"


def order(inst: str) -> str:
    return f"order|{inst}|"


def fill(inst: str) -> str:
    return f"fill|{inst}|"


def stream(name: str) -> str:
    return f"stream|{name}|"


def order_event(strategy: str) -> str:
    return f"ord|{strategy}|"


def order_event_of(strategy: str, cl_ord_id: str) -> str:
    """One order's lifecycle topic; the prefix ``order_event(strategy)`` matches all of them."""
    return f"ord|{strategy}|{cl_ord_id}|"


def strategy_status(strategy: str) -> str:
    return f"strat|{strategy}|"


def risk_state(scope: str, key: str) -> str:
    return f"riskstate|{scope}|{key}|"


def risk_limits(scope: str, key: str) -> str:
    return f"risklimits|{scope}|{key}|"


def actor(name: str) -> str:
    return f"actor|{name}|"
