"""The incremental book view equals a brute-force top-N after every publish, including levels
that cross the depth boundary (small depth to stress it)."""

from __future__ import annotations

import random

from ops.exchange.book import OrderBook
from ops.exchange.config import InstrumentSpec
from ops.exchange.feed import BookFeed
from ops.exchange.instruments import Instrument
from ops.exchange.orders import Order


def test_view_matches_brute_force_top_n() -> None:
    inst = Instrument(
        InstrumentSpec(inst_id="X-USDT", inst_type="SPOT", tick_sz="1", lot_sz="1", min_sz="1"), 1
    )
    book = OrderBook()
    feed = BookFeed(inst, book, depth=5)
    rng = random.Random(5)
    live: list[Order] = []
    client_b: dict[str, str] = {}
    client_a: dict[str, str] = {}
    for step in range(3000):
        for _ in range(rng.randint(1, 4)):
            if live and rng.random() < 0.45:
                o = live.pop(rng.randrange(len(live)))
                if rng.random() < 0.5 and o.remaining > 1:
                    book.reduce(o, 1)
                    o.acc_lots += 1
                    live.append(o)
                else:
                    book.remove(o)
            else:
                buy = rng.random() < 0.5
                ticks = rng.randint(90, 99) if buy else rng.randint(101, 110)
                o = Order(
                    ord_id=step * 10 + len(live),
                    account="a",
                    inst=inst,
                    side="buy" if buy else "sell",
                    ord_type="limit",
                    ticks=ticks,
                    lots=rng.randint(1, 5),
                )
                book.add(o)
                live.append(o)
        msg = feed.publish(step)
        want_b = {t: (lots, n) for t, lots, n in book.top(True, 5)}
        want_a = {t: (lots, n) for t, lots, n in book.top(False, 5)}
        assert feed.bids == want_b, step
        assert feed.asks == want_a, step
        if msg is None:
            continue
        for side, rows in ((client_b, msg.data["bids"]), (client_a, msg.data["asks"])):
            assert isinstance(rows, list)
            for px, sz, _, _ in rows:
                if sz == "0":
                    side.pop(px, None)
                else:
                    side[px] = sz
        assert client_b == {str(t): str(v[0]) for t, v in want_b.items()}, step
        assert client_a == {str(t): str(v[0]) for t, v in want_a.items()}, step
