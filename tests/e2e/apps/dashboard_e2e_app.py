"""The app the dashboard's browser tests drive: an Outlast SDK app served by Starlette.

``checkout`` gives a run page something to show: two steps, a short sleep and a step that
fails once and then succeeds (the server under test retries after 0.2 s, so the retry costs
no real time). ``hibernate`` sleeps for an hour so a test can cancel it from the page.
``greet`` finishes at once, for the "send an event from the form" test.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route

import outlast
import outlast.asgi

client = outlast.Client("dashboard-e2e")

#: The first attempt of ``charge-card`` raises this; tests look for it in the step's detail.
CHARGE_ERROR = "card network timed out"
#: What ``load-order`` returns for an order number; tests look for it in the step's detail.
ORDER_SKU = "SKU-TEAPOT-418"


@client.function(id="checkout", trigger=outlast.TriggerEvent(event="e2e/checkout"), retries=2)
async def checkout(ctx: outlast.Context) -> dict[str, Any]:
    order_no = int(ctx.event.data.get("order", 1))

    def load_order() -> dict[str, Any]:
        return {"order": order_no, "sku": ORDER_SKU, "quantity": 3}

    def reserve_stock() -> dict[str, Any]:
        return {"reserved": order["quantity"], "warehouse": "north"}

    def charge_card() -> dict[str, Any]:
        # ctx.attempt counts this step's attempts from 0: fail the first one only.
        if ctx.attempt == 0:
            raise RuntimeError(CHARGE_ERROR)
        return {"charged_cents": 4200, "attempt": ctx.attempt}

    order: dict[str, Any] = await ctx.step.run("load-order", load_order)
    stock: dict[str, Any] = await ctx.step.run("reserve-stock", reserve_stock)
    await ctx.step.sleep("cool-down", timedelta(seconds=2))
    receipt: dict[str, Any] = await ctx.step.run("charge-card", charge_card)
    return {"order": order, "stock": stock, "receipt": receipt}


@client.function(id="hibernate", trigger=outlast.TriggerEvent(event="e2e/hibernate"))
async def hibernate(ctx: outlast.Context) -> str:
    await ctx.step.sleep("an-hour", timedelta(hours=1))
    return "woke up"


@client.function(id="greet", trigger=outlast.TriggerEvent(event="e2e/greet"))
async def greet(ctx: outlast.Context) -> str:
    name = str(ctx.event.data.get("name", "world"))
    greeting: str = await ctx.step.run("compose", lambda: f"hello, {name}")
    return greeting


app = Starlette(
    routes=[
        Route(
            "/api/outlast",
            outlast.asgi.serve(client, [checkout, hibernate, greet]),
            methods=["GET", "POST", "PUT"],
        )
    ]
)
