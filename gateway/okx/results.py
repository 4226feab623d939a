"""Typed results of OKX trade operations (REST and WS share them). Pure."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import OrderRejectedError, VenueError
from gateway.okx.codes import venue_error
from gateway.okx.schemas import OrderAck

__all__ = ["TradeResult"]


@dataclass(frozen=True, slots=True)
class TradeResult:
    """Envelope of place/cancel/amend (single or batch): top ``code`` ``0`` all ok, ``1`` all
    failed, ``2`` partial; ``items`` in request order, each with its own ``sCode``.

    ``sCode "0"`` on cancel/amend means *accepted*; the outcome arrives on the ``orders`` push."""

    code: str
    msg: str
    items: list[OrderAck]
    in_time: str = ""
    out_time: str = ""

    @property
    def all_ok(self) -> bool:
        return bool(self.items) and all(i.ok for i in self.items)

    def item_error(self, i: int) -> OrderRejectedError | None:
        """The rejection of item ``i`` (None when it was accepted)."""
        item = self.items[i]
        if item.ok:
            return None
        err = venue_error(item.sCode, item.sMsg, item=True)
        if isinstance(err, OrderRejectedError):
            return err
        return OrderRejectedError(item.sCode, item.sMsg)

    def single(self) -> OrderAck:
        """The one item of a single operation; raises its typed error when it failed."""
        if len(self.items) != 1:
            raise VenueError(self.code, self.msg or "expected exactly one result item")
        item = self.items[0]
        if not item.ok:
            raise venue_error(item.sCode, item.sMsg, item=True)
        return item
