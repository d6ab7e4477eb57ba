-- The hospitality source: the property-management system's three tables, and the landing
-- area where `headwater ingest hospitality` writes the booking, guest and room-rate events.
--
-- The baseline (`headwater seed hospitality`) fills bookings, guests and room_inventory;
-- from then on the applications speak in events. Historical bookings predate the
-- `booking_source` field: the column exists but is NULL in every baseline row.

create table if not exists guests (
    guest_id text primary key,
    name text not null,
    email text,
    phone text,
    country text,
    loyalty_tier text not null default 'None'
        check (loyalty_tier in ('None', 'Silver', 'Gold', 'Platinum')),
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table if not exists room_inventory (
    property_id text not null,
    room_type text not null,
    room_count integer not null check (room_count >= 0),
    nightly_rate numeric(10, 2) not null check (nightly_rate >= 0),
    effective_from date not null,
    -- Exclusive; NULL while the row is current.
    effective_to date,
    primary key (property_id, room_type, effective_from)
);

create table if not exists bookings (
    booking_id text primary key,
    guest_id text not null,
    property_id text not null,
    room_type text not null,
    check_in_date date not null,
    check_out_date date not null,
    booking_date date not null,
    total_amount numeric(12, 2) not null,
    currency text not null,
    booking_status text not null
        check (booking_status in ('Confirmed', 'Cancelled', 'Checked-In', 'Checked-Out', 'No-Show')),
    number_of_guests integer not null,
    booking_source text,
    check (check_out_date > check_in_date)
);

-- Landing tables. `ingest_seq` is the sync cursor (airbyte/connections/hospitality.yaml):
-- ingestion commits batches in sequence order, so `ingest_seq > last synced` never skips
-- a row. The unique indexes decide what a duplicate is; `payload` keeps the whole event
-- as it arrived, fields nobody has a column for yet included.

create table if not exists booking_events (
    ingest_seq bigint generated always as identity primary key,
    received_at timestamptz not null default clock_timestamp(),
    event_id text not null,
    event_type text not null,
    event_timestamp timestamptz not null,
    processing_timestamp timestamptz,
    operation text not null,
    source_system text,
    booking_id text not null,
    payload jsonb not null
);

create unique index if not exists booking_events_event_id on booking_events (event_id);
-- The specification's idempotency key: a retried request has a new event_id but the same
-- booking and event time.
create unique index if not exists booking_events_idempotency
    on booking_events (booking_id, event_timestamp);

-- Both CDC forms land here: the flat `guest.*` events (cdc_format 'flat') and Debezium
-- envelopes (cdc_format 'debezium', whose event_id is derived from the envelope).
create table if not exists guest_events (
    ingest_seq bigint generated always as identity primary key,
    received_at timestamptz not null default clock_timestamp(),
    event_id text not null,
    event_type text not null,
    cdc_format text not null check (cdc_format in ('flat', 'debezium')),
    operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE', 'SNAPSHOT')),
    event_timestamp timestamptz not null,
    guest_id text not null,
    payload jsonb not null
);

create unique index if not exists guest_events_event_id on guest_events (event_id);

create table if not exists room_rate_events (
    ingest_seq bigint generated always as identity primary key,
    received_at timestamptz not null default clock_timestamp(),
    event_id text not null,
    event_type text not null,
    event_timestamp timestamptz not null,
    property_id text not null,
    room_type text not null,
    nightly_rate numeric(10, 2) not null,
    effective_date date not null,
    previous_rate numeric(10, 2),
    payload jsonb not null
);

create unique index if not exists room_rate_events_event_id on room_rate_events (event_id);
