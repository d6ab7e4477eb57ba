"""The restaurant order events: four types, validated, landed in one table.

The fields are exactly the specification's (`table_seated`, `order_placed` with its nested
`items`, `order_completed`, `payment`). Numbers and strings are strict: `"four"` for a
party size, or `"65.55"` for an amount, is a wrong type and the event is dead-lettered,
not coerced. Unknown fields are kept in `payload` (schema evolution, see headwater.ingest).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr

from headwater import ingest
from headwater.sources import schema_sql

Text = Annotated[StrictStr, Field(min_length=1, max_length=200)]
# Strict floats take JSON integers (a tip of 10) but refuse strings.
Amount = Annotated[float, Field(strict=True, ge=0, le=1_000_000)]


class _Event(ingest.Event):
    event_id: Text
    timestamp: ingest.EventTime
    location_id: Text
    location_name: Text
    table_id: Text


class TableSeated(_Event):
    event_type: Literal["table_seated"]
    party_size: Annotated[StrictInt, Field(ge=1, le=100)]
    server_id: Text


class OrderItem(ingest.Event):
    item_id: Text
    item_name: Text
    category: Text
    price: Amount
    quantity: Annotated[StrictInt, Field(ge=1, le=1000)]


class OrderPlaced(_Event):
    event_type: Literal["order_placed"]
    order_id: Text
    server_id: Text
    items: Annotated[list[OrderItem], Field(min_length=1, max_length=500)]
    subtotal: Amount


class OrderCompleted(_Event):
    event_type: Literal["order_completed"]
    order_id: Text
    kitchen_time_minutes: Annotated[StrictInt, Field(ge=0, le=24 * 60)]


class Payment(_Event):
    event_type: Literal["payment"]
    order_id: Text
    subtotal: Amount
    tax: Amount
    tip: Amount
    total_amount: Amount
    payment_method: Text


COLUMNS = (
    "event_id",
    "event_type",
    "event_timestamp",
    "location_id",
    "location_name",
    "table_id",
    "server_id",
    "order_id",
    "party_size",
    "subtotal",
    "tax",
    "tip",
    "total_amount",
    "payment_method",
    "kitchen_time_minutes",
)


def _seated(e: TableSeated) -> tuple:
    return (
        e.event_id,
        e.event_type,
        e.timestamp,
        e.location_id,
        e.location_name,
        e.table_id,
        e.server_id,
        None,
        e.party_size,
        None,
        None,
        None,
        None,
        None,
        None,
    )


def _placed(e: OrderPlaced) -> tuple:
    return (
        e.event_id,
        e.event_type,
        e.timestamp,
        e.location_id,
        e.location_name,
        e.table_id,
        e.server_id,
        e.order_id,
        None,
        e.subtotal,
        None,
        None,
        None,
        None,
        None,
    )


def _completed(e: OrderCompleted) -> tuple:
    return (
        e.event_id,
        e.event_type,
        e.timestamp,
        e.location_id,
        e.location_name,
        e.table_id,
        None,
        e.order_id,
        None,
        None,
        None,
        None,
        None,
        None,
        e.kitchen_time_minutes,
    )


def _payment(e: Payment) -> tuple:
    return (
        e.event_id,
        e.event_type,
        e.timestamp,
        e.location_id,
        e.location_name,
        e.table_id,
        None,
        e.order_id,
        None,
        e.subtotal,
        e.tax,
        e.tip,
        e.total_amount,
        e.payment_method,
        None,
    )


EVENT_TYPES = {
    "table_seated": (TableSeated, _seated),
    "order_placed": (OrderPlaced, _placed),
    "order_completed": (OrderCompleted, _completed),
    "payment": (Payment, _payment),
}

SPEC = ingest.EventSpec(
    domain="restaurant",
    tables=(ingest.LandingTable("events", COLUMNS),),
    types={
        name: ingest.EventType(name, model, "events", row)
        for name, (model, row) in EVENT_TYPES.items()
    },
    landing_ddl=schema_sql("restaurant"),
    examples=(
        {
            "event_id": "evt_7f3a9c1e",
            "event_type": "table_seated",
            "timestamp": "2025-01-15T12:03:11Z",
            "location_id": "loc_00042",
            "location_name": "Chicago - River North",
            "table_id": "T12",
            "party_size": 4,
            "server_id": "srv_0311",
        },
        {
            "event_id": "evt_7f3a9c2b",
            "event_type": "order_placed",
            "timestamp": "2025-01-15T12:09:40Z",
            "location_id": "loc_00042",
            "location_name": "Chicago - River North",
            "table_id": "T12",
            "order_id": "ord_00042_0187",
            "server_id": "srv_0311",
            "items": [
                {
                    "item_id": "itm_012",
                    "item_name": "Margherita Pizza",
                    "category": "Mains",
                    "price": 14.5,
                    "quantity": 2,
                },
                {
                    "item_id": "itm_031",
                    "item_name": "Lemonade",
                    "category": "Drinks",
                    "price": 3.75,
                    "quantity": 1,
                },
            ],
            "subtotal": 32.75,
        },
        {
            "event_id": "evt_7f3a9c44",
            "event_type": "order_completed",
            "timestamp": "2025-01-15T12:31:02Z",
            "location_id": "loc_00042",
            "location_name": "Chicago - River North",
            "table_id": "T12",
            "order_id": "ord_00042_0187",
            "kitchen_time_minutes": 21,
        },
        {
            "event_id": "evt_7f3a9c5d",
            "event_type": "payment",
            "timestamp": "2025-01-15T12:58:19Z",
            "location_id": "loc_00042",
            "location_name": "Chicago - River North",
            "table_id": "T12",
            "order_id": "ord_00042_0187",
            "subtotal": 32.75,
            "tax": 2.95,
            "tip": 6.0,
            "total_amount": 41.7,
            "payment_method": "credit_card",
        },
    ),
)
