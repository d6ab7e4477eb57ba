"""The hospitality events: bookings, guest CDC (two forms) and room-rate updates.

Three landing tables, one per stream of the specification:

* `booking_events`: `booking.created` (a full booking), then partial updates that carry
  only what changed (`booking.updated`, `booking.confirmed`, `booking.cancelled`,
  `booking.checked_in`, `booking.checked_out`, `booking.no_show`). A duplicate is a
  repeated `event_id` or a repeated idempotency key `booking_id + event_timestamp` (a
  network retry that got a fresh event id).
* `guest_events`: the flat CDC events (`guest.created`, `guest.updated` with `before`
  and `changed_fields`, `guest.deleted`) and Debezium envelopes (`payload.before/after/
  source/op/ts_ms`, op c/u/d/r). An envelope has no event id of its own: it gets one from
  the change's identity in the source log (connector name, table, guest, source ts_ms,
  lsn, op), so a connector that re-delivers after a restart sends a duplicate.
* `room_rate_events`: `room.price_updated`, a new nightly rate from an effective date.

Numbers and strings are strict (`"680.00"` for an amount is a wrong type and the event is
dead-lettered, not coerced). Unknown fields are kept in `payload`: `booking_source`
appeared mid-stream that way before the models read it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, StrictStr, model_validator

from headwater import ingest
from headwater.sources import schema_sql

Text = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Amount = Annotated[float, Field(strict=True, ge=0, le=10_000_000)]
Rate = Annotated[float, Field(strict=True, ge=0, le=1_000_000)]
BookingStatus = Literal["Confirmed", "Cancelled", "Checked-In", "Checked-Out", "No-Show"]
LoyaltyTier = Literal["None", "Silver", "Gold", "Platinum"]
MAX_NIGHTS = 365


def _dates_in_order(data: Any) -> Any:
    check_in, check_out = (
        getattr(data, "check_in_date", None),
        getattr(data, "check_out_date", None),
    )
    if check_in and check_out:
        if check_out <= check_in:
            raise ValueError("check_out_date must be after check_in_date")
        if (check_out - check_in).days > MAX_NIGHTS:
            raise ValueError(f"a stay of more than {MAX_NIGHTS} nights")
    return data


# --- bookings -----------------------------------------------------------------------------------


class BookingChange(ingest.Event):
    """The `data` of an update: the booking id and whatever changed."""

    booking_id: Text
    guest_id: Text | None = None
    property_id: Text | None = None
    room_type: Text | None = None
    check_in_date: date | None = None
    check_out_date: date | None = None
    booking_date: date | None = None
    total_amount: Amount | None = None
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)] | None = None
    booking_status: BookingStatus | None = None
    number_of_guests: Annotated[StrictInt, Field(ge=1, le=50)] | None = None
    booking_source: Text | None = None

    _check = model_validator(mode="after")(_dates_in_order)


class NewBooking(BookingChange):
    """The `data` of booking.created: a whole booking."""

    guest_id: Text
    property_id: Text
    room_type: Text
    check_in_date: date
    check_out_date: date
    total_amount: Amount
    currency: Annotated[StrictStr, Field(min_length=3, max_length=3)]
    number_of_guests: Annotated[StrictInt, Field(ge=1, le=50)]


class _BookingEvent(ingest.Event):
    event_id: Text
    event_timestamp: ingest.EventTime
    processing_timestamp: ingest.EventTime | None = None
    source_system: Text | None = None
    changed_fields: list[Text] | None = None


class BookingCreated(_BookingEvent):
    event_type: Literal["booking.created"]
    operation: Literal["INSERT"]
    data: NewBooking


class BookingUpdated(_BookingEvent):
    event_type: Literal[
        "booking.updated",
        "booking.confirmed",
        "booking.cancelled",
        "booking.checked_in",
        "booking.checked_out",
        "booking.no_show",
    ]
    operation: Literal["UPDATE"]
    data: BookingChange


BOOKING_COLUMNS = (
    "event_id",
    "event_type",
    "event_timestamp",
    "processing_timestamp",
    "operation",
    "source_system",
    "booking_id",
)


def _booking(e: BookingCreated | BookingUpdated) -> tuple:
    return (
        e.event_id,
        e.event_type,
        e.event_timestamp,
        e.processing_timestamp,
        e.operation,
        e.source_system,
        e.data.booking_id,
    )


# --- guests -------------------------------------------------------------------------------------


class GuestFields(ingest.Event):
    guest_id: Text
    name: Text | None = None
    email: Annotated[StrictStr, Field(max_length=320)] | None = None
    phone: Annotated[StrictStr, Field(max_length=50)] | None = None
    country: Annotated[StrictStr, Field(max_length=100)] | None = None
    loyalty_tier: LoyaltyTier | None = None
    created_at: ingest.EventTime | None = None
    updated_at: ingest.EventTime | None = None


class NewGuest(GuestFields):
    name: Text


class _GuestEvent(ingest.Event):
    event_id: Text
    event_timestamp: ingest.EventTime
    table: Literal["guests"] | None = None
    before: dict[str, Any] | None = None
    changed_fields: list[Text] | None = None


class GuestCreated(_GuestEvent):
    event_type: Literal["guest.created"]
    operation: Literal["INSERT"]
    data: NewGuest


class GuestUpdated(_GuestEvent):
    event_type: Literal["guest.updated"]
    operation: Literal["UPDATE"]
    data: GuestFields


class GuestDeleted(_GuestEvent):
    event_type: Literal["guest.deleted"]
    operation: Literal["DELETE"]
    data: GuestFields


class DebeziumSource(ingest.Event):
    name: Text
    table: Literal["guests"]
    ts_ms: Annotated[StrictInt, Field(ge=0, le=4_102_444_800_000)]
    lsn: StrictInt | StrictStr | None = None


class DebeziumPayload(ingest.Event):
    before: GuestFields | None = None
    after: GuestFields | None = None
    source: DebeziumSource
    op: Literal["c", "u", "d", "r"]
    ts_ms: Annotated[StrictInt, Field(ge=0, le=4_102_444_800_000)]

    @model_validator(mode="after")
    def _row_for_op(self):
        if self.op == "d" and self.before is None:
            raise ValueError("op d needs `before`")
        if self.op != "d" and self.after is None:
            raise ValueError(f"op {self.op} needs `after`")
        return self


class GuestDebezium(ingest.Event):
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    payload: DebeziumPayload


DEBEZIUM = "guest.debezium"
OPERATIONS = {"c": "INSERT", "u": "UPDATE", "d": "DELETE", "r": "SNAPSHOT"}

GUEST_COLUMNS = (
    "event_id",
    "event_type",
    "cdc_format",
    "operation",
    "event_timestamp",
    "guest_id",
)


def _guest_flat(e: GuestCreated | GuestUpdated | GuestDeleted) -> tuple:
    return (e.event_id, e.event_type, "flat", e.operation, e.event_timestamp, e.data.guest_id)


def debezium_event_id(p: DebeziumPayload) -> str:
    row = p.after if p.op != "d" else p.before
    lsn = "" if p.source.lsn is None else str(p.source.lsn)
    return f"dbz:{p.source.name}:{p.source.table}:{row.guest_id}:{p.source.ts_ms}:{lsn}:{p.op}"


def _guest_debezium(e: GuestDebezium) -> tuple:
    from datetime import UTC, datetime

    p = e.payload
    row = p.after if p.op != "d" else p.before
    at = datetime.fromtimestamp(p.source.ts_ms / 1000, tz=UTC)
    return (debezium_event_id(p), DEBEZIUM, "debezium", OPERATIONS[p.op], at, row.guest_id)


# --- room rates ---------------------------------------------------------------------------------


class PriceChange(ingest.Event):
    property_id: Text
    room_type: Text
    nightly_rate: Rate
    effective_date: date
    previous_rate: Rate | None = None
    reason: Text | None = None


class RoomPriceUpdated(ingest.Event):
    event_id: Text
    event_type: Literal["room.price_updated"]
    event_timestamp: ingest.EventTime
    operation: Literal["UPDATE"]
    source: Text | None = None
    data: PriceChange


RATE_COLUMNS = (
    "event_id",
    "event_type",
    "event_timestamp",
    "property_id",
    "room_type",
    "nightly_rate",
    "effective_date",
    "previous_rate",
)


def _rate(e: RoomPriceUpdated) -> tuple:
    d = e.data
    return (
        e.event_id,
        e.event_type,
        e.event_timestamp,
        d.property_id,
        d.room_type,
        d.nightly_rate,
        d.effective_date,
        d.previous_rate,
    )


def classify(event: Any) -> str | None:
    """`event_type`, or `guest.debezium` for an envelope (no event_type, a payload with op)."""
    kind = event.get("event_type")
    if isinstance(kind, str):
        return kind
    payload = event.get("payload")
    if isinstance(payload, dict) and "op" in payload:
        return DEBEZIUM
    return None


EVENT_TYPES = {
    "booking.created": (BookingCreated, _booking, "booking_events"),
    **{
        name: (BookingUpdated, _booking, "booking_events")
        for name in (
            "booking.updated",
            "booking.confirmed",
            "booking.cancelled",
            "booking.checked_in",
            "booking.checked_out",
            "booking.no_show",
        )
    },
    "guest.created": (GuestCreated, _guest_flat, "guest_events"),
    "guest.updated": (GuestUpdated, _guest_flat, "guest_events"),
    "guest.deleted": (GuestDeleted, _guest_flat, "guest_events"),
    DEBEZIUM: (GuestDebezium, _guest_debezium, "guest_events"),
    "room.price_updated": (RoomPriceUpdated, _rate, "room_rate_events"),
}

# The specification's examples, one or more per type.
EXAMPLES: tuple[dict[str, Any], ...] = (
    {
        "event_id": "evt_001",
        "event_type": "booking.created",
        "event_timestamp": "2024-11-03T10:30:00.000Z",
        "processing_timestamp": "2024-11-03T10:30:00.125Z",
        "operation": "INSERT",
        "source_system": "booking-api",
        "data": {
            "booking_id": "B001234",
            "guest_id": "G00567",
            "property_id": "PROP001",
            "room_type": "Deluxe King",
            "check_in_date": "2024-11-15",
            "check_out_date": "2024-11-18",
            "booking_date": "2024-11-03",
            "total_amount": 680.00,
            "currency": "USD",
            "booking_status": "Confirmed",
            "booking_source": "web",
            "number_of_guests": 2,
        },
    },
    {
        "event_id": "evt_002",
        "event_type": "booking.updated",
        "event_timestamp": "2024-11-03T14:45:00.000Z",
        "processing_timestamp": "2024-11-03T14:45:00.089Z",
        "operation": "UPDATE",
        "source_system": "booking-api",
        "data": {
            "booking_id": "B001234",
            "check_in_date": "2024-11-16",
            "check_out_date": "2024-11-19",
            "total_amount": 720.00,
            "updated_at": "2024-11-03T14:45:00.000Z",
        },
        "changed_fields": ["check_in_date", "check_out_date", "total_amount"],
    },
    {
        "event_id": "evt_003",
        "event_type": "booking.cancelled",
        "event_timestamp": "2024-11-03T16:20:00.000Z",
        "processing_timestamp": "2024-11-03T16:20:00.045Z",
        "operation": "UPDATE",
        "source_system": "booking-api",
        "data": {
            "booking_id": "B001234",
            "booking_status": "Cancelled",
            "cancellation_reason": "guest_request",
            "cancelled_at": "2024-11-03T16:20:00.000Z",
            "refund_amount": 720.00,
        },
        "changed_fields": ["booking_status"],
    },
    {
        "event_id": "evt_004",
        "event_type": "booking.checked_in",
        "event_timestamp": "2024-11-16T15:00:00.000Z",
        "processing_timestamp": "2024-11-16T15:00:00.112Z",
        "operation": "UPDATE",
        "source_system": "pms-frontend",
        "data": {
            "booking_id": "B001235",
            "booking_status": "Checked-In",
            "actual_check_in": "2024-11-16T15:00:00.000Z",
            "room_number": "612",
        },
        "changed_fields": ["booking_status", "actual_check_in"],
    },
    {
        "event_id": "evt_005",
        "event_type": "booking.checked_out",
        "event_timestamp": "2024-11-19T10:00:00.000Z",
        "operation": "UPDATE",
        "source_system": "pms-frontend",
        "data": {"booking_id": "B001235", "booking_status": "Checked-Out"},
        "changed_fields": ["booking_status"],
    },
    {
        "event_id": "evt_006",
        "event_type": "booking.no_show",
        "event_timestamp": "2024-11-16T23:59:00.000Z",
        "operation": "UPDATE",
        "data": {"booking_id": "B001236", "booking_status": "No-Show"},
    },
    {
        "event_id": "evt_007",
        "event_type": "booking.confirmed",
        "event_timestamp": "2024-11-03T10:31:00.000Z",
        "operation": "UPDATE",
        "data": {"booking_id": "B001237", "booking_status": "Confirmed"},
    },
    {
        "event_id": "evt_101",
        "event_type": "guest.created",
        "event_timestamp": "2024-11-03T09:15:00.000Z",
        "operation": "INSERT",
        "table": "guests",
        "data": {
            "guest_id": "G00890",
            "name": "Sarah Martinez",
            "email": "sarah.martinez@email.com",
            "phone": "+1-555-0123",
            "country": "USA",
            "loyalty_tier": "None",
            "created_at": "2024-11-03T09:15:00.000Z",
            "updated_at": "2024-11-03T09:15:00.000Z",
        },
    },
    {
        "event_id": "evt_102",
        "event_type": "guest.updated",
        "event_timestamp": "2024-11-03T18:30:00.000Z",
        "operation": "UPDATE",
        "table": "guests",
        "data": {
            "guest_id": "G00890",
            "loyalty_tier": "Silver",
            "updated_at": "2024-11-03T18:30:00.000Z",
        },
        "before": {"loyalty_tier": "None"},
        "changed_fields": ["loyalty_tier"],
    },
    {
        "event_id": "evt_103",
        "event_type": "guest.deleted",
        "event_timestamp": "2024-11-04T08:00:00.000Z",
        "operation": "DELETE",
        "table": "guests",
        "data": {"guest_id": "G00891"},
    },
    {
        "schema": {
            "type": "struct",
            "fields": [
                {"field": "guest_id", "type": "string"},
                {"field": "name", "type": "string"},
                {"field": "email", "type": "string"},
                {"field": "loyalty_tier", "type": "string"},
            ],
        },
        "payload": {
            "before": {
                "guest_id": "G00123",
                "name": "John Doe",
                "email": "john@email.com",
                "loyalty_tier": "Silver",
            },
            "after": {
                "guest_id": "G00123",
                "name": "John Doe",
                "email": "john.doe@email.com",
                "loyalty_tier": "Gold",
            },
            "source": {
                "version": "1.0",
                "connector": "debezium",
                "name": "mews-guests-db",
                "ts_ms": 1699014000000,
                "snapshot": "false",
                "db": "production",
                "table": "guests",
            },
            "op": "u",
            "ts_ms": 1699014000123,
        },
    },
    {
        "payload": {
            "before": {"guest_id": "G00124", "name": "Jane Roe", "loyalty_tier": "None"},
            "after": None,
            "source": {"name": "mews-guests-db", "ts_ms": 1699014060000, "table": "guests"},
            "op": "d",
            "ts_ms": 1699014060050,
        },
    },
    {
        "event_id": "evt_201",
        "event_type": "room.price_updated",
        "event_timestamp": "2024-11-03T00:05:00.000Z",
        "operation": "UPDATE",
        "source": "revenue-management-system",
        "data": {
            "property_id": "PROP001",
            "room_type": "Deluxe King",
            "nightly_rate": 220.00,
            "effective_date": "2024-11-03",
            "previous_rate": 200.00,
            "reason": "demand_surge",
        },
    },
)

SPEC = ingest.EventSpec(
    domain="hospitality",
    tables=(
        ingest.LandingTable("booking_events", BOOKING_COLUMNS),
        ingest.LandingTable("guest_events", GUEST_COLUMNS),
        ingest.LandingTable("room_rate_events", RATE_COLUMNS),
    ),
    types={
        name: ingest.EventType(name, model, table, row)
        for name, (model, row, table) in EVENT_TYPES.items()
    },
    landing_ddl=schema_sql("hospitality"),
    classify=classify,
    examples=EXAMPLES,
)
