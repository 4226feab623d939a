"""OKX v5 clients used by the gateway actors and the order router.

* ``signing``     prehash + HMAC (REST headers, WS login args)
* ``schemas``     OKX DTOs (msgspec, field names verbatim, numbers as strings) and request bodies
                  ``PlaceOrderReq`` / ``CancelOrderReq`` / ``AmendOrderReq``
* ``convert``     DTO → ``engine.messages`` (the only string → Decimal conversion)
* ``codes``       OKX code → ``engine.errors`` type (``venue_error``)
* ``results``     ``TradeResult`` (envelope + per-item ``sCode``) shared by REST and WS trade ops
* ``ratelimit``   token bucket per OKX bucket (pure)
* ``rest``        ``OkxRestClient``: one signed ``request()`` + endpoint table + typed methods
* ``ws_protocol`` frames → typed events, request builders (pure)
* ``ws``          ``OkxWsClient``: connect, ping, backoff, login, resubscribe, ``request()``
* ``venue``       build both clients from ``OkxmmConfig``
"""
