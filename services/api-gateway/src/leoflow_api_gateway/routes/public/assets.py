"""GET /api/v2/assets/events: empty. Leoflow does not implement assets yet, so no
asset event is ever recorded (the other asset operations answer 501)."""

from __future__ import annotations

from starlette.routing import Route

from ..common import empty_collection

get_asset_events = empty_collection("asset_events", "No assets, hence no asset events.")

routes = [Route("/assets/events", get_asset_events, methods=["GET"])]
