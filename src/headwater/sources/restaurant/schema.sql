-- The restaurant landing area: where `headwater ingest restaurant` writes the order events.
-- One table for the four event types: the fields every dashboard query filters or adds
-- up are typed columns (NULL where an event type does not have them), and `payload`
-- keeps the whole event as it arrived, nested `items` included, so that a field the
-- applications add later is stored before any column exists for it.
--
-- `ingest_seq` is the sync cursor (airbyte/connections/restaurant.yaml): ingestion
-- commits batches in sequence order, so `ingest_seq > last synced` never skips a row.
-- The unique index on `event_id` is what makes a re-sent event a duplicate.

create table if not exists events (
    ingest_seq bigint generated always as identity primary key,
    received_at timestamptz not null default clock_timestamp(),
    event_id text not null,
    event_type text not null
        check (event_type in ('table_seated', 'order_placed', 'order_completed', 'payment')),
    event_timestamp timestamptz not null,
    location_id text not null,
    location_name text not null,
    table_id text not null,
    server_id text,
    order_id text,
    party_size integer,
    subtotal numeric(12, 2),
    tax numeric(12, 2),
    tip numeric(12, 2),
    total_amount numeric(12, 2),
    payment_method text,
    kitchen_time_minutes integer,
    payload jsonb not null
);

create unique index if not exists events_event_id on events (event_id);
