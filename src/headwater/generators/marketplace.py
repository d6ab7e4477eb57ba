"""Marketplace source data: a deterministic year of history, then batches of application changes.

`seed` rebuilds the source: users (buyers, sellers, both), a fixed two-level category tree,
products, orders with their items, payments, reviews, seller tier history and an event log,
all within the 365 days before `as_of`. Everything is generated set-based on the server: random
numbers come from `hashint8extended` over (row number, seed, column), ids from md5 of the seed
and the row number, so the same (scale, seed, as_of) gives identical tables whatever plan the
server picks. Faker only fills small pools (names, cities, sentences) that are copied in.

`mutate` applies what the application would do next, in several transactions whose changed
rows carry `updated_at` = that transaction's `now()`: sign-ups, orders, status progressions,
cancellations, refunds, price and stock changes, tier changes, soft deletes.

Conventions and deliberate traps a pipeline reading this source must survive:

- `orders.confirmed_at` is `timestamp without time zone` and holds UTC wall-clock time (the
  application writes `now() at time zone 'UTC'`); every other timestamp is `timestamptz`.
- Webhook replays: about 2% of payments have a second row with a different `id` but the same
  `event_id` (and the same event timestamp, amount and status).
- `payments` has no `updated_at`: refunds and captures rewrite `status`, `seller_payout`,
  `event_id` and `event_timestamp` in place; a replayed webhook is a new row whose
  `event_timestamp` is the original event's.
- About 1% of products have `updated_at` in the future (a client with a skewed clock).
- Soft-deleted users (`deleted_at` set, `is_active` false, about 2%); their products become
  `deleted`, and a deleted seller's last tier row ends at `deleted_at` with `is_current` false.
- About 3% of users (buyers) have no `country_code`.
- Prices and orders in USD, EUR, GBP, CAD, AUD, JPY (no minor unit) and BRL, by seller country;
  an order's currency is its seller's.
- Users whose type changed from buyer to both (an `event_log` row `user.type_changed`, and
  `updated_at` later than `created_at`).
- `products.tags` is `text[]` (sometimes empty or NULL), `products.attributes` is `jsonb` with
  varying keys and a nested object.
- Seller tiers progress, sometimes skip a tier (bronze to gold) or go down again.
- `event_log` rows arrive out of order: `received_at` order differs from `event_timestamp`
  order (mobile clients buffer events), and ids follow `received_at`.
- `mutate` leaves one late commit: a transaction opened first updates an order with
  `updated_at` = its own start time and commits last, after rows with later `updated_at` were
  committed by the other transactions.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, time, timedelta

import click
import psycopg
from psycopg import sql

from headwater import db
from headwater.errors import HeadwaterError
from headwater.sources import schema_sql

log = logging.getLogger(__name__)

Progress = Callable[[str], None] | None

# Child tables after their parents: the order rows are inserted in.
TABLES = (
    "categories",
    "users",
    "products",
    "orders",
    "order_items",
    "payments",
    "reviews",
    "seller_tier_history",
    "event_log",
)

# Optional, not part of the application's DDL: indexes on the cursor columns incremental
# syncs filter on. Kept apart so the DDL stays exactly the exercise's.
CURSOR_INDEXES = (
    "create index if not exists users_updated_at_idx on users (updated_at)",
    "create index if not exists products_updated_at_idx on products (updated_at)",
    "create index if not exists orders_updated_at_idx on orders (updated_at)",
    "create index if not exists order_items_created_at_idx on order_items (created_at)",
    "create index if not exists payments_created_at_idx on payments (created_at)",
    "create index if not exists reviews_updated_at_idx on reviews (updated_at)",
    "create index if not exists seller_tier_history_created_at_idx"
    " on seller_tier_history (created_at)",
    "create index if not exists event_log_received_at_idx on event_log (received_at)",
)

DAYS_OF_HISTORY = 365
USERS_PER_SCALE = 500
PRODUCTS_PER_SCALE = 400
ORDERS_PER_SCALE = 2000
MINUTES_PER_YEAR = 365 * 24 * 60

# code, currency, share of users, sales tax / VAT rate, Faker locale
COUNTRIES = (
    ("US", "USD", 30, "0.07", "en_US"),
    ("GB", "GBP", 12, "0.20", "en_GB"),
    ("DE", "EUR", 10, "0.19", "de_DE"),
    ("FR", "EUR", 8, "0.20", "fr_FR"),
    ("ES", "EUR", 5, "0.21", "es_ES"),
    ("IT", "EUR", 5, "0.22", "it_IT"),
    ("NL", "EUR", 4, "0.21", "nl_NL"),
    ("IE", "EUR", 2, "0.23", "en_IE"),
    ("CA", "CAD", 8, "0.13", "en_CA"),
    ("AU", "AUD", 6, "0.10", "en_AU"),
    ("JP", "JPY", 5, "0.10", "ja_JP"),
    ("BR", "BRL", 5, "0.17", "pt_BR"),
)
# Units of each currency per US dollar; JPY has no minor unit (see pg_temp.money).
FX = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CAD": 1.36, "AUD": 1.52, "JPY": 150.0, "BRL": 5.0}

# Eight roots of four children: (root, USD price band, ((child, (two nouns)), ...)).
CATEGORIES = (
    (
        "Electronics",
        (15, 600),
        (
            ("Headphones", ("Headphones", "Earbuds")),
            ("Phone Accessories", ("Phone Case", "Charging Stand")),
            ("Cameras", ("Camera Strap", "Lens Filter Set")),
            ("Computer Accessories", ("Mechanical Keyboard", "Mouse Pad")),
        ),
    ),
    (
        "Home & Kitchen",
        (8, 250),
        (
            ("Cookware", ("Skillet", "Saucepan")),
            ("Home Decor", ("Vase", "Wall Clock")),
            ("Bedding", ("Duvet Cover", "Pillowcase Set")),
            ("Storage", ("Storage Basket", "Spice Rack")),
        ),
    ),
    (
        "Fashion",
        (10, 300),
        (
            ("Women's Clothing", ("Wrap Dress", "Cardigan")),
            ("Men's Clothing", ("Oxford Shirt", "Field Jacket")),
            ("Shoes", ("Sneakers", "Chelsea Boots")),
            ("Bags", ("Tote Bag", "Backpack")),
        ),
    ),
    (
        "Jewelry",
        (12, 800),
        (
            ("Necklaces", ("Pendant Necklace", "Chain Necklace")),
            ("Rings", ("Signet Ring", "Stacking Ring")),
            ("Earrings", ("Hoop Earrings", "Stud Earrings")),
            ("Watches", ("Wristwatch", "Watch Strap")),
        ),
    ),
    (
        "Books & Media",
        (4, 80),
        (
            ("Fiction", ("Novel", "Short Story Collection")),
            ("Non-Fiction", ("Cookbook", "Travel Guide")),
            ("Vinyl Records", ("LP Record", "7-inch Single")),
            ("Comics", ("Graphic Novel", "Comic Book")),
        ),
    ),
    (
        "Toys & Games",
        (6, 150),
        (
            ("Board Games", ("Board Game", "Card Game")),
            ("Puzzles", ("Jigsaw Puzzle", "Puzzle Box")),
            ("Plush Toys", ("Teddy Bear", "Plush Fox")),
            ("Building Sets", ("Building Kit", "Block Set")),
        ),
    ),
    (
        "Sports & Outdoors",
        (10, 400),
        (
            ("Camping", ("Tent", "Sleeping Bag")),
            ("Cycling", ("Bike Light", "Saddle Bag")),
            ("Fitness", ("Kettlebell", "Resistance Band Set")),
            ("Yoga", ("Yoga Mat", "Meditation Cushion")),
        ),
    ),
    (
        "Art & Crafts",
        (5, 500),
        (
            ("Prints", ("Art Print", "Poster")),
            ("Paintings", ("Oil Painting", "Watercolor")),
            ("Craft Supplies", ("Yarn Bundle", "Brush Set")),
            ("Ceramics", ("Mug", "Serving Bowl")),
        ),
    ),
)
# A retired category: still referenced by old products.
INACTIVE_CATEGORIES = ("Comics",)

ADJECTIVES = (
    "Vintage",
    "Handmade",
    "Classic",
    "Modern",
    "Minimalist",
    "Rustic",
    "Deluxe",
    "Compact",
    "Organic",
    "Artisan",
    "Everyday",
    "Premium",
    "Retro",
    "Nordic",
    "Limited Edition",
    "Travel",
)
COLORS = (
    "Black",
    "White",
    "Navy",
    "Sage",
    "Terracotta",
    "Walnut",
    "Oak",
    "Charcoal",
    "Ivory",
    "Mustard",
    "Forest Green",
    "Blush",
    "Copper",
    "Slate",
)
REVIEW_TITLES = {
    1: ("Very disappointed", "Not as described", "Broke after a week", "Would not buy again"),
    2: ("Below expectations", "Poor quality", "Arrived damaged", "Not great"),
    3: ("Decent for the price", "It's fine", "Average quality", "Mixed feelings"),
    4: ("Really nice", "Good value", "Happy with it", "Solid purchase"),
    5: ("Absolutely love it", "Perfect!", "Exceeded expectations", "Five stars, fast shipping"),
}
NAMES_PER_COUNTRY = 40
CITIES_PER_COUNTRY = 20
SENTENCES = 150


# --- session and helpers -------------------------------------------------------------------

# temp_buffers must be set before the session touches its first temporary table. Lookups join
# on computed keys the planner cannot estimate; nested loops over them would be quadratic.
_SESSION = """
set temp_buffers = '1GB';
set work_mem = '512MB';
set maintenance_work_mem = '512MB';
set max_parallel_workers_per_gather = 0;
set enable_nestloop = off;
set jit = off;
set timezone = 'UTC';
set synchronous_commit = off;
"""

# rnd(k, salt): a uniform number in [0, 1) from the row number and a per-column salt; uid(kind,
# n): a stable uuid. Both depend on the seed, baked in as a literal so the planner inlines them.
_HELPERS = """
create function pg_temp.rnd(k bigint, salt integer) returns double precision
language sql immutable parallel safe
as $$
    select (hashint8extended(k, {base} + salt) & 281474976710655)::double precision
        / 281474976710656.0
$$;

create function pg_temp.uid(kind text, n bigint) returns uuid
language sql immutable parallel safe
as $$ select md5({prefix} || kind || ':' || n::text)::uuid $$;

create function pg_temp.money(amount numeric, currency text) returns numeric
language sql immutable parallel safe
as $$ select round(amount, case when currency = 'JPY' then 0 else 2 end) $$;

create function pg_temp.price(amount double precision, currency text) returns numeric
language sql immutable parallel safe
as $$
    select case
        when currency = 'JPY' then greatest(round(amount::numeric, -1), 10)
        else greatest(floor(amount)::numeric + 0.99, 0.99)
    end
$$;

create function pg_temp.urnd(id uuid, salt integer) returns double precision
language sql immutable parallel safe
as $$ select pg_temp.rnd(hashtext(id::text), salt) $$;

create function pg_temp.hex(kind text, n bigint) returns text
language sql immutable parallel safe
as $$ select md5({prefix} || kind || ':' || n::text) $$;
"""

_REFERENCE_TABLES = """
create temp table ref_country (
    code char(2),
    currency char(3),
    idx int,
    cum_lo double precision,
    cum_hi double precision,
    tax_rate numeric,
    fx double precision
);
create temp table ref_currency (currency char(3), fx double precision);
create temp table ref_category (id int, root_id int, price_lo double precision, price_hi double precision);
create temp table ref_noun (category_id int, idx int, noun text);
create temp table ref_word (kind text, idx int, word text);
create temp table ref_name (
    country char(2), idx int, first_name text, last_name text, first_ascii text, last_ascii text
);
create temp table ref_city (country char(2), idx int, city text, postal_code text);
create temp table ref_sentence (idx int, sentence text);
create temp table ref_review (rating int, idx int, title text);
"""


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _call(progress: Progress, step: str) -> None:
    log.info("marketplace: %s", step)
    if progress is not None:
        progress(step)


def _seed_base(text: str) -> int:
    """A 40-bit number from any seed text, for the hash seeds of pg_temp.rnd."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:5], "big")


def _install_helpers(conn: psycopg.Connection, seed_text: str) -> None:
    conn.execute(
        sql.SQL(_HELPERS).format(
            base=sql.Literal(_seed_base(seed_text) * 1000),
            prefix=sql.Literal(seed_text + ":"),
        )
    )


def _copy(conn: psycopg.Connection, table: str, rows: Iterable[Sequence[object]]) -> None:
    with conn.cursor().copy(sql.SQL("copy {} from stdin").format(sql.Identifier(table))) as copy:
        for row in rows:
            copy.write_row(row)


def _country_rows() -> list[tuple]:
    total = sum(weight for _, _, weight, _, _ in COUNTRIES)
    rows, cum = [], 0.0
    for idx, (code, currency, weight, tax_rate, _) in enumerate(COUNTRIES):
        hi = cum + weight / total if idx < len(COUNTRIES) - 1 else 2.0
        rows.append((code, currency, idx, cum, hi, tax_rate, FX[currency]))
        cum = hi
    return rows


def _load_currency_tables(conn: psycopg.Connection) -> None:
    _copy(conn, "ref_country", _country_rows())
    _copy(conn, "ref_currency", FX.items())


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum()) or "user"


def _category_rows(created_at: datetime) -> list[tuple]:
    """The fixed category tree: roots get ids 1-8, the children of root k ids 9+4(k-1) .. 12+4(k-1)."""
    rows = []
    for root_id, (name, _, _) in enumerate(CATEGORIES, start=1):
        rows.append((root_id, name, _slug(name), None, 1, True, created_at))
    child_id = len(CATEGORIES)
    for root_id, (root, _, children) in enumerate(CATEGORIES, start=1):
        for child, _ in children:
            child_id += 1
            slug = f"{_slug(root)}-{_slug(child)}"
            active = child not in INACTIVE_CATEGORIES
            rows.append((child_id, child, slug, root_id, 2, active, created_at))
    return rows


def _slug(name: str) -> str:
    words = name.lower().replace("&", "and").replace("'", "").replace("-", " ").split()
    return "-".join(words)


@functools.lru_cache(maxsize=4)
def _pool_rows(seed: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """Names and cities per country and English sentences, from Faker seeded per locale.

    Cached: building the twelve locales costs about as much as seeding scale 1."""
    from faker import Faker

    names, cities = [], []
    for i, (code, _, _, _, locale) in enumerate(COUNTRIES):
        fake = Faker(locale)
        fake.seed_instance(seed * 100 + i)
        for idx in range(NAMES_PER_COUNTRY):
            if code == "JP":  # romaji, as most users of an international marketplace type them
                first, last = fake.first_romanized_name(), fake.last_romanized_name()
            else:
                first, last = fake.first_name(), fake.last_name()
            names.append((code, idx, first, last, _ascii(first), _ascii(last)))
        for idx in range(CITIES_PER_COUNTRY):
            cities.append((code, idx, fake.city()[:100], fake.postcode()[:20]))
    fake = Faker("en_US")
    fake.seed_instance(seed)
    sentences = [(idx, fake.sentence(nb_words=12)) for idx in range(SENTENCES)]
    return names, cities, sentences


def _load_pools(conn: psycopg.Connection, seed: int) -> None:
    """Small Faker pools (names, cities, sentences) and the fixed word lists, as temp tables."""
    names, cities, sentences = _pool_rows(seed)
    _load_currency_tables(conn)
    _copy(conn, "ref_name", names)
    _copy(conn, "ref_city", cities)
    _copy(conn, "ref_sentence", sentences)
    categories, nouns = [], []
    child_id = len(CATEGORIES)
    for root_id, (_, (lo, hi), children) in enumerate(CATEGORIES, start=1):
        categories.append((root_id, root_id, lo, hi))
        for _, child_nouns in children:
            child_id += 1
            categories.append((child_id, root_id, lo, hi))
            nouns.extend((child_id, idx, noun) for idx, noun in enumerate(child_nouns))
    _copy(conn, "ref_category", categories)
    _copy(conn, "ref_noun", nouns)
    words = [("adjective", idx, word) for idx, word in enumerate(ADJECTIVES)]
    words += [("color", idx, word) for idx, word in enumerate(COLORS)]
    _copy(conn, "ref_word", words)
    reviews = [
        (rating, idx, title)
        for rating, titles in REVIEW_TITLES.items()
        for idx, title in enumerate(titles)
    ]
    _copy(conn, "ref_review", reviews)
    conn.execute(
        "analyze ref_country, ref_currency, ref_name, ref_city, ref_sentence, ref_category,"
        " ref_noun, ref_word, ref_review"
    )


# --- seed: generation in temporary tables ----------------------------------------------------

_SEED_USERS = """
create temp table g_user as
with base as (
    select
        n,
        pg_temp.rnd(n, 101) as r_type,
        pg_temp.rnd(n, 102) as r_country,
        pg_temp.rnd(n, 103) as r_no_country,
        pg_temp.rnd(n, 104) as r_first,
        pg_temp.rnd(n, 105) as r_last,
        pg_temp.rnd(n, 106) as r_created,
        pg_temp.rnd(n, 107) as r_domain,
        pg_temp.rnd(n, 108) as r_changed,
        pg_temp.rnd(n, 109) as r_since,
        pg_temp.rnd(n, 110) as r_edit,
        pg_temp.rnd(n, 111) as r_edit_at
    from generate_series(1, %(n_users)s) as n
),

typed as (
    select
        base.*,
        case
            when r_type < 0.70 then 'buyer'
            when r_type < 0.85 then 'seller'
            else 'both'
        end as user_type,
        %(t0)s::timestamptz + r_created * %(user_span_s)s * interval '1 second' as created_at
    from base
),

flagged as (
    select
        typed.*,
        user_type = 'both'
        and created_at < %(as_of)s::timestamptz - interval '45 days' as can_change,
        row_number() over (partition by user_type order by r_no_country, n) as no_country_rank
    from typed
),

ranked as (
    select
        flagged.*,
        row_number() over (partition by can_change order by r_changed, n) as change_rank
    from flagged
),

picked as (
    select
        r.n,
        r.user_type,
        case
            when r.user_type = 'buyer' and (r.r_no_country < 0.043 or r.no_country_rank = 1)
                then null
            else c.code
        end as country_code,
        f.first_name,
        l.last_name,
        lower(f.first_ascii) || '.' || lower(l.last_ascii) || r.n || '@'
        || (array['example.com', 'example.net', 'example.org', 'mail.example.com'])[
            1 + floor(r.r_domain * 4)::int
        ] as email,
        lower(f.first_ascii) || '_' || lower(left(l.last_ascii, 1)) || r.n as username,
        r.can_change and (r.r_changed < 0.2 or r.change_rank = 1) as type_changed,
        r.created_at,
        r.r_since,
        r.r_edit,
        r.r_edit_at
    from ranked as r
    inner join ref_country as c on r.r_country >= c.cum_lo and r.r_country < c.cum_hi
    inner join ref_name as f
        on f.country = c.code and f.idx = floor(r.r_first * %(names)s)::int
    inner join ref_name as l
        on l.country = c.code and l.idx = floor(r.r_last * %(names)s)::int
)

select
    picked.*,
    pg_temp.uid('user', n) as id,
    case
        when user_type = 'buyer' then null
        when type_changed
            then created_at
            + (0.25 + 0.5 * r_since) * (%(as_of)s::timestamptz - interval '20 days' - created_at)
        else created_at
    end as seller_since
from picked;

analyze g_user;

-- Sellers numbered by seniority: the older ones get more products (and, below, more orders).
create temp table g_seller as
select
    row_number() over (order by u.seller_since, u.n) as sidx,
    u.n,
    u.id,
    u.country_code,
    c.currency,
    c.fx,
    u.seller_since,
    1 + floor(pg_temp.rnd(u.n, 121) * 8)::int as home_root
from g_user as u
inner join ref_country as c on c.code = u.country_code
where u.user_type in ('seller', 'both');

analyze g_seller;
"""

_SEED_PRODUCTS = """
create temp table g_product_raw as
with base as materialized (
    select
        p,
        case
            when p <= %(n_sellers)s then p
            else 1 + floor(pg_temp.rnd(p, 201) ^ 2 * %(n_sellers)s)::int
        end as sidx,
        pg_temp.rnd(p, 202) as r_home,
        pg_temp.rnd(p, 203) as r_cat,
        pg_temp.rnd(p, 204) as r_price,
        pg_temp.rnd(p, 205) as r_status,
        pg_temp.rnd(p, 206) as r_qty,
        pg_temp.rnd(p, 207) as r_created,
        pg_temp.rnd(p, 208) as r_published,
        pg_temp.rnd(p, 209) as r_updated,
        pg_temp.rnd(p, 210) as r_adjective,
        pg_temp.rnd(p, 211) as r_noun,
        pg_temp.rnd(p, 212) as r_color,
        pg_temp.rnd(p, 213) as r_titled_color,
        pg_temp.rnd(p, 214) as r_description,
        pg_temp.rnd(p, 215) as r_sentence_a,
        pg_temp.rnd(p, 216) as r_sentence_b,
        pg_temp.rnd(p, 217) as r_no_tags
    from generate_series(1, %(n_products)s) as p
),

placed as (
    select
        b.*,
        s.id as seller_id,
        s.currency,
        s.fx,
        case
            when b.r_home < 0.85 then 9 + (s.home_root - 1) * 4 + floor(b.r_cat * 4)::int
            else 9 + floor(b.r_cat * 32)::int
        end as category_id,
        case
            when b.p <= %(n_sellers)s then 'active'
            when b.r_status < 0.05 then 'draft'
            when b.r_status < 0.10 then 'paused'
            when b.r_status < 0.15 then 'sold_out'
            when b.r_status < 0.18 then 'deleted'
            else 'active'
        end as status,
        s.seller_since + b.r_created * least(
            interval '6 days', (%(as_of)s::timestamptz - s.seller_since) * 0.5
        ) as created_at
    from base as b
    inner join g_seller as s on s.sidx = b.sidx
)

select
    placed.*,
    case
        when status <> 'draft'
            then created_at + r_published * least(
                interval '1 day', (%(as_of)s::timestamptz - created_at) * 0.5
            )
    end as published_at
from placed;

analyze g_product_raw;

create temp table g_product as
select
    t.p,
    pg_temp.uid('product', t.p) as id,
    t.sidx,
    t.seller_id,
    t.category_id,
    a.word || ' ' || nn.noun
    || case when t.r_titled_color < 0.4 then ', ' || col.word else '' end as title,
    case
        when t.r_description >= 0.05 then sa.sentence || ' ' || sb.sentence
    end as description,
    pg_temp.price(
        exp(ln(rc.price_lo) + t.r_price * ln(rc.price_hi / rc.price_lo)) * t.fx, t.currency
    ) as price_amount,
    t.currency as price_currency,
    case
        when t.status in ('sold_out', 'deleted') then 0
        when t.status = 'draft' then 1 + floor(t.r_qty * 50)::int
        else 1 + floor(t.r_qty ^ 2 * 250)::int
    end as quantity_available,
    t.status,
    case
        when t.r_no_tags >= 0.03 then array_remove(array[
            case when pg_temp.rnd(t.p, 220) < 0.30 then 'handmade' end,
            case when pg_temp.rnd(t.p, 221) < 0.20 then 'vintage' end,
            case when pg_temp.rnd(t.p, 222) < 0.20 then 'gift-idea' end,
            case when pg_temp.rnd(t.p, 223) < 0.15 then 'eco-friendly' end,
            case when pg_temp.rnd(t.p, 224) < 0.10 then 'bestseller' end,
            case when pg_temp.rnd(t.p, 225) < 0.08 then 'limited-edition' end,
            case when pg_temp.rnd(t.p, 226) < 0.12 then 'free-shipping' end,
            case when pg_temp.rnd(t.p, 227) < 0.10 then 'new-arrival' end
        ], null)
    end as tags,
    jsonb_strip_nulls(jsonb_build_object(
        'condition', case
            when pg_temp.rnd(t.p, 230) < 0.85 then 'new'
            when pg_temp.rnd(t.p, 230) < 0.95 then 'used'
            else 'refurbished'
        end,
        'color', case when pg_temp.rnd(t.p, 231) < 0.7 then col.word end,
        'weight_g', case
            when pg_temp.rnd(t.p, 232) < 0.8 then 20 + floor(pg_temp.rnd(t.p, 233) * 4980)::int
        end,
        'dimensions_cm', case
            when pg_temp.rnd(t.p, 234) < 0.4 then jsonb_build_object(
                'length', 5 + floor(pg_temp.rnd(t.p, 235) * 95)::int,
                'width', 5 + floor(pg_temp.rnd(t.p, 236) * 60)::int,
                'height', 1 + floor(pg_temp.rnd(t.p, 237) * 40)::int
            )
        end,
        'made_to_order', case when pg_temp.rnd(t.p, 238) < 0.05 then true end
    )) as attributes,
    t.created_at,
    coalesce(t.published_at, t.created_at) + t.r_updated ^ 3 * (
        %(as_of)s::timestamptz - coalesce(t.published_at, t.created_at)
    ) as updated_at,
    t.published_at
from g_product_raw as t
inner join ref_category as rc on rc.id = t.category_id
inner join ref_word as a
    on a.kind = 'adjective' and a.idx = floor(t.r_adjective * %(adjectives)s)::int
inner join ref_word as col on col.kind = 'color' and col.idx = floor(t.r_color * %(colors)s)::int
inner join ref_noun as nn on nn.category_id = t.category_id and nn.idx = floor(t.r_noun * 2)::int
inner join ref_sentence as sa on sa.idx = floor(t.r_sentence_a * %(sentences)s)::int
inner join ref_sentence as sb on sb.idx = floor(t.r_sentence_b * %(sentences)s)::int;

analyze g_product;

-- What a seller can sell: published products, numbered per seller.
create temp table g_listing as
select
    sidx,
    row_number() over (partition by sidx order by p) as lidx,
    p,
    id as product_id,
    title,
    category_id,
    price_amount,
    price_currency,
    published_at,
    jsonb_build_object(
        'title', title,
        'price_amount', price_amount,
        'price_currency', price_currency,
        'category_id', category_id
    ) as product_snapshot
from g_product
where status <> 'draft';

analyze g_listing;

-- Sellers in the order they became able to sell (sidx2), and buyers in sign-up order (bidx).
create temp table g_seller_ready as
select
    s.*,
    x.n_listed,
    x.ready_at,
    row_number() over (order by x.ready_at, s.sidx) as sidx2
from g_seller as s
inner join (
    select
        sidx,
        count(*) as n_listed,
        max(published_at) as ready_at
    from g_listing
    group by sidx
) as x on x.sidx = s.sidx;

analyze g_seller_ready;

create temp table g_buyer as
select
    row_number() over (order by u.created_at, u.n) as bidx,
    u.n,
    u.id,
    u.country_code,
    u.created_at,
    s.sidx2 as own_sidx2
from g_user as u
left join g_seller_ready as s on s.n = u.n
where u.user_type in ('buyer', 'both');

analyze g_buyer;

-- Per hour since t0: how many buyers had signed up and how many sellers could sell before it.
create temp table g_cum as
with b as (
    select
        floor(extract(epoch from created_at - %(t0)s::timestamptz) / 3600)::int as bucket,
        count(*) as c
    from g_buyer
    group by 1
),

s as (
    select
        floor(extract(epoch from ready_at - %(t0)s::timestamptz) / 3600)::int as bucket,
        count(*) as c
    from g_seller_ready
    group by 1
)

select
    h as bucket,
    sum(coalesce(b.c, 0)) over (order by h)::int as n_buyers,
    sum(coalesce(s.c, 0)) over (order by h)::int as n_sellers
from generate_series(0, %(h_max)s) as h
left join b on b.bucket = h - 1
left join s on s.bucket = h - 1;

analyze g_cum;
"""

_SEED_ORDERS = """
-- An order at time t: a buyer who had signed up before t, and one seller who could sell before t
-- (never the buyer), older sellers more often. Order volume grows over the year.
create temp table g_order_base as
with base as materialized (
    select
        o,
        %(order_start)s::timestamptz
        + sqrt(pg_temp.rnd(o, 301)) * %(order_span_s)s * interval '1 second' as created_at,
        pg_temp.rnd(o, 302) as r_buyer,
        pg_temp.rnd(o, 303) as r_seller
    from generate_series(1, %(n_orders)s) as o
),

with_buyer as (
    select
        b.o,
        b.created_at,
        g.id as buyer_id,
        g.country_code as buyer_country,
        case
            when g.own_sidx2 <= c.n_sellers
                then 1 + floor(b.r_seller ^ 2 * (c.n_sellers - 1))::int
                + case
                    when 1 + floor(b.r_seller ^ 2 * (c.n_sellers - 1))::int >= g.own_sidx2 then 1
                    else 0
                end
            else 1 + floor(b.r_seller ^ 2 * c.n_sellers)::int
        end as sidx2
    from base as b
    inner join g_cum as c
        on c.bucket = floor(extract(epoch from b.created_at - %(t0)s::timestamptz) / 3600)::int
    inner join g_buyer as g on g.bidx = 1 + floor(b.r_buyer * c.n_buyers)::int
)

select
    w.*,
    pg_temp.uid('order', w.o) as id,
    s.sidx,
    s.id as seller_id,
    s.country_code as seller_country,
    s.currency,
    s.fx,
    s.n_listed,
    least(
        case
            when pg_temp.rnd(w.o, 304) < 0.10 then 1
            when pg_temp.rnd(w.o, 304) < 0.40 then 2
            when pg_temp.rnd(w.o, 304) < 0.75 then 3
            else 4
        end,
        s.n_listed
    ) as n_items,
    floor(pg_temp.rnd(w.o, 305) * s.n_listed)::int as item_start,
    pg_temp.rnd(w.o, 311) as r_ship_country
from with_buyer as w
inner join g_seller_ready as s on s.sidx2 = w.sidx2;

analyze g_order_base;

-- One to four lines per order, distinct products of the order's seller.
create temp table g_item as
with lines as materialized (
    select
        o.o,
        o.id as order_id,
        o.o * 10 + j.j as item_key,
        o.sidx,
        o.seller_id,
        o.created_at,
        mod(o.item_start + j.j - 1, o.n_listed) + 1 as lidx,
        pg_temp.rnd(o.o * 10 + j.j, 401) as r_qty
    from g_order_base as o
    inner join generate_series(1, 4) as j (j) on j.j <= o.n_items
),

sized as (
    select
        lines.*,
        case
            when r_qty < 0.75 then 1
            when r_qty < 0.90 then 2
            else 3 + floor((r_qty - 0.90) * 30)::int
        end as quantity
    from lines
)

select
    s.item_key,
    pg_temp.uid('order_item', s.item_key) as id,
    s.o,
    s.order_id,
    s.sidx,
    s.lidx,
    l.product_id,
    s.seller_id,
    s.quantity,
    l.price_amount as unit_price,
    s.quantity * l.price_amount as total_price,
    l.price_currency as currency,
    s.created_at
from sized as s
inner join g_listing as l on l.sidx = s.sidx and l.lidx = s.lidx;

analyze g_item;

-- Amounts, then the status timeline as of as_of. Fates: a few orders are cancelled before or
-- after confirmation, refunded after delivery, or abandoned at checkout.
create temp table g_order as
with sums as (
    select
        o,
        sum(total_price) as subtotal
    from g_item
    group by o
),

base as (
    select
        b.*,
        s.subtotal,
        coalesce(
            b.buyer_country,
            (
                select sc.code from ref_country as sc
                where b.r_ship_country >= sc.cum_lo and b.r_ship_country < sc.cum_hi
            )
        ) as shipping_country,
        pg_temp.rnd(b.o, 320) as r_city,
        pg_temp.rnd(b.o, 321) as r_discount,
        pg_temp.rnd(b.o, 322) as r_discount_rate
    from g_order_base as b
    inner join sums as s on s.o = b.o
),

priced as materialized (
    select
        base.*,
        case
            when base.subtotal >= (50 * base.fx)::numeric then 0
            when base.shipping_country = base.seller_country
                then pg_temp.money((4.99 * base.fx)::numeric, base.currency)
            else pg_temp.money((14.99 * base.fx)::numeric, base.currency)
        end as shipping_amount,
        pg_temp.money(base.subtotal * tc.tax_rate, base.currency) as tax_amount,
        case
            when base.r_discount < 0.12
                then pg_temp.money(
                    base.subtotal * (0.05 + 0.15 * base.r_discount_rate)::numeric, base.currency
                )
            else 0
        end as discount_amount,
        (1 + 179 * pg_temp.rnd(base.o, 312) ^ 2) * interval '1 minute' as d_conf,
        (1 + 23 * pg_temp.rnd(base.o, 313)) * interval '1 hour' as d_proc,
        (6 + 66 * pg_temp.rnd(base.o, 314)) * interval '1 hour' as d_ship,
        (1 + 7 * pg_temp.rnd(base.o, 315)) * interval '1 day' as d_deliv,
        case
            when pg_temp.rnd(base.o, 316) < 0.03 then 'cancel_early'
            when pg_temp.rnd(base.o, 316) < 0.06 then 'cancel_late'
            when pg_temp.rnd(base.o, 316) < 0.09 then 'refund'
            when pg_temp.rnd(base.o, 316) < 0.095 then 'abandoned'
            else 'normal'
        end as fate,
        pg_temp.rnd(base.o, 317) as r_cancel,
        pg_temp.rnd(base.o, 318) as r_refund
    from base
    inner join ref_country as tc on tc.code = base.shipping_country
),

planned as (
    select
        priced.*,
        created_at + d_conf as conf_at0,
        created_at + d_conf + d_proc as proc_at0,
        created_at + d_conf + d_proc + d_ship as ship_at0,
        created_at + d_conf + d_proc + d_ship + d_deliv as deliv_at0
    from priced
),

fated as (
    select
        planned.*,
        case
            when fate = 'cancel_early'
                then created_at + (10 + 2870 * r_cancel) * interval '1 minute'
            when fate = 'cancel_late' then conf_at0 + r_cancel * (ship_at0 - conf_at0)
        end as cancel_at0,
        case
            when fate = 'refund' then deliv_at0 + (1 + 20 * r_refund) * interval '1 day'
        end as refund_at0
    from planned
),

reached as (
    select
        fated.*,
        case when cancel_at0 < %(as_of)s::timestamptz then cancel_at0 end as cancelled_at,
        case when refund_at0 < %(as_of)s::timestamptz then refund_at0 end as refunded_at,
        fate in ('cancel_early', 'abandoned') as never_confirmed
    from fated
),

stamped as materialized (
    select
        reached.*,
        case
            when not never_confirmed and conf_at0 < %(as_of)s::timestamptz then conf_at0
        end as confirmed_at,
        case
            when not never_confirmed and proc_at0 < coalesce(cancelled_at, %(as_of)s::timestamptz)
                then proc_at0
        end as processing_at,
        case
            when not never_confirmed and cancelled_at is null
                and ship_at0 < %(as_of)s::timestamptz
                then ship_at0
        end as shipped_at,
        case
            when not never_confirmed and cancelled_at is null
                and deliv_at0 < %(as_of)s::timestamptz
                then deliv_at0
        end as delivered_at
    from reached
)

select
    s.o,
    s.id,
    'ORD-' || to_char(s.created_at, 'YYYYMMDD') || '-' || lpad(
        row_number() over (
            partition by date_trunc('day', s.created_at) order by s.created_at, s.o
        )::text,
        5,
        '0'
    ) as order_number,
    s.buyer_id,
    s.seller_id,
    case
        when s.cancelled_at is not null then 'cancelled'
        when s.refunded_at is not null then 'refunded'
        when s.delivered_at is not null then 'delivered'
        when s.shipped_at is not null then 'shipped'
        when s.processing_at is not null then 'processing'
        when s.confirmed_at is not null then 'confirmed'
        else 'pending'
    end as status,
    s.fate,
    s.subtotal as subtotal_amount,
    s.shipping_amount,
    s.tax_amount,
    s.discount_amount,
    s.subtotal + s.shipping_amount + s.tax_amount - s.discount_amount as total_amount,
    s.currency,
    s.fx,
    s.shipping_country,
    ct.city as shipping_city,
    ct.postal_code as shipping_postal_code,
    s.created_at,
    coalesce(
        s.cancelled_at,
        s.refunded_at,
        s.delivered_at,
        s.shipped_at,
        s.processing_at,
        s.confirmed_at,
        s.created_at
    ) as updated_at,
    s.confirmed_at,
    s.processing_at,
    s.shipped_at,
    s.delivered_at,
    s.cancelled_at,
    s.refunded_at
from stamped as s
inner join ref_city as ct
    on ct.country = s.shipping_country and ct.idx = floor(s.r_city * %(cities)s)::int;

analyze g_order;
"""

_SEED_PAYMENTS = """
create temp table g_payment as
with base as materialized (
    select
        o.o,
        o.id as order_id,
        o.status,
        o.fate,
        o.currency,
        o.fx,
        o.total_amount as amount,
        o.confirmed_at,
        o.delivered_at,
        o.cancelled_at,
        o.refunded_at,
        o.created_at + (15 + 40 * pg_temp.rnd(o.o, 501)) * interval '1 second' as created_at,
        pg_temp.rnd(o.o, 502) as r_exists,
        pg_temp.rnd(o.o, 503) as r_provider,
        pg_temp.rnd(o.o, 504) as r_dispute
    from g_order as o
),

decided as (
    select
        base.*,
        case
            when status = 'pending' and fate = 'abandoned'
                then case when r_exists < 0.5 then 'failed' end
            when status = 'pending' then case when r_exists < 0.6 then 'pending' end
            when status = 'cancelled' and confirmed_at is null
                then case when r_exists < 0.4 then 'failed' end
            when status in ('cancelled', 'refunded') then 'refunded'
            when
                status = 'delivered' and r_dispute < 0.005
                and delivered_at + interval '2 days' < %(as_of)s::timestamptz
                then 'disputed'
            else 'completed'
        end as pay_status,
        case
            when r_provider < 0.60 then 'stripe'
            when r_provider < 0.85 then 'adyen'
            else 'paypal'
        end as provider
    from base
),

timed as (
    select
        decided.*,
        case
            when pay_status = 'pending' then null
            when pay_status = 'failed' then created_at + interval '1 minute'
            else confirmed_at
        end as processed_at,
        case
            when pay_status = 'pending' then created_at
            when pay_status = 'failed' then created_at + interval '1 minute'
            when pay_status = 'refunded' then coalesce(cancelled_at, refunded_at)
            when pay_status = 'disputed' then delivered_at + interval '2 days'
            else confirmed_at
        end as event_timestamp,
        least(amount, pg_temp.money(amount * 0.08 + (0.30 * fx)::numeric, currency)) as fee
    from decided
    where pay_status is not null
)

select
    o,
    false as is_replay,
    pg_temp.uid('payment', o) as id,
    order_id,
    provider as payment_provider,
    case
        when provider = 'stripe' then 'pi_' || left(pg_temp.hex('psp', o), 24)
        when provider = 'adyen' then upper(left(pg_temp.hex('psp', o), 16))
        else 'PAYID-' || upper(left(pg_temp.hex('psp', o), 24))
    end as payment_provider_id,
    amount,
    currency,
    fee as platform_fee,
    case when pay_status = 'refunded' then 0 else amount - fee end as seller_payout,
    pay_status as status,
    created_at,
    processed_at,
    'evt_' || left(pg_temp.hex('payment-event', o), 24) as event_id,
    event_timestamp
from timed
where created_at < %(as_of)s::timestamptz and event_timestamp < %(as_of)s::timestamptz;

-- Webhook replays: the same event delivered again and stored as a second payment row.
insert into g_payment
with ranked as (
    select
        g_payment.*,
        pg_temp.rnd(o, 520) as r_replay,
        row_number() over (order by pg_temp.rnd(o, 520), o) as replay_rank
    from g_payment
    where event_timestamp < %(as_of)s::timestamptz - interval '3 hours'
)

select
    o,
    true,
    pg_temp.uid('payment-replay', o),
    order_id,
    payment_provider,
    payment_provider_id,
    amount,
    currency,
    platform_fee,
    seller_payout,
    status,
    event_timestamp + (5 + 7200 * pg_temp.rnd(o, 521) ^ 2) * interval '1 second',
    processed_at,
    event_id,
    event_timestamp
from ranked
where r_replay < 0.02 or replay_rank = 1;

analyze g_payment;

create temp table g_review as
with picked as materialized (
    select
        i.item_key,
        i.id as order_item_id,
        i.product_id,
        i.seller_id,
        o.buyer_id as reviewer_id,
        o.delivered_at + (0.5 + 20 * pg_temp.rnd(i.item_key, 601)) * interval '1 day' as created_at,
        pg_temp.rnd(i.item_key, 602) as r_rating,
        pg_temp.rnd(i.item_key, 603) as r_title,
        pg_temp.rnd(i.item_key, 604) as r_body,
        pg_temp.rnd(i.item_key, 605) as r_body_a,
        pg_temp.rnd(i.item_key, 606) as r_body_b,
        pg_temp.rnd(i.item_key, 607) as r_backlog,
        pg_temp.rnd(i.item_key, 608) as r_moderation,
        pg_temp.rnd(i.item_key, 609) as r_votes,
        (1 + 71 * pg_temp.rnd(i.item_key, 610)) * interval '1 hour' as d_moderation
    from g_item as i
    inner join g_order as o on o.o = i.o
    where o.status = 'delivered' and pg_temp.rnd(i.item_key, 600) < 0.2
),

rated as (
    select
        picked.*,
        case
            when r_rating < 0.09 then 1
            when r_rating < 0.15 then 2
            when r_rating < 0.25 then 3
            when r_rating < 0.50 then 4
            else 5
        end as rating,
        case
            when r_backlog < 0.03 or created_at + d_moderation >= %(as_of)s::timestamptz
                then 'pending'
            when r_moderation < 0.90 then 'approved'
            when r_moderation < 0.95 then 'flagged'
            else 'rejected'
        end as status
    from picked
    where created_at < %(as_of)s::timestamptz
)

select
    r.item_key,
    pg_temp.uid('review', r.item_key) as id,
    r.product_id,
    r.order_item_id,
    r.seller_id,
    r.reviewer_id,
    r.rating,
    t.title,
    case when r.r_body >= 0.1 then sa.sentence || ' ' || sb.sentence end as body,
    true as is_verified_purchase,
    case when r.status = 'approved' then floor(r.r_votes ^ 3 * 60)::int else 0 end as helpful_votes,
    r.status,
    case when r.status <> 'pending' then r.created_at + r.d_moderation end as moderated_at,
    r.created_at,
    case
        when r.status <> 'pending' then r.created_at + r.d_moderation else r.created_at
    end as updated_at
from rated as r
inner join ref_review as t
    on t.rating = r.rating and t.idx = floor(r.r_title * %(review_titles)s)::int
inner join ref_sentence as sa on sa.idx = floor(r.r_body_a * %(sentences)s)::int
inner join ref_sentence as sb on sb.idx = floor(r.r_body_b * %(sentences)s)::int;

analyze g_review;
"""

_SEED_ACCOUNTS = """
-- Soft deletes: users with nothing open, some days after their last activity.
create temp table g_deleted as
with activity as (
    select
        buyer_id as user_id,
        updated_at as at,
        status
    from g_order
    union all
    select
        seller_id,
        updated_at,
        status
    from g_order
    union all
    select
        reviewer_id,
        created_at,
        'delivered'
    from g_review
    union all
    select
        seller_id,
        coalesce(published_at, created_at),
        'delivered'
    from g_product
),

per_user as (
    select
        user_id,
        max(at) as last_at,
        bool_or(status in ('pending', 'confirmed', 'processing', 'shipped')) as has_open
    from activity
    group by user_id
),

candidates as (
    select
        u.n,
        u.id,
        u.user_type,
        greatest(u.created_at, p.last_at) as last_at,
        pg_temp.rnd(u.n, 701) as r_delete,
        pg_temp.rnd(u.n, 702) as r_when
    from g_user as u
    left join per_user as p on p.user_id = u.id
    where
        not u.type_changed
        and not coalesce(p.has_open, false)
        and greatest(u.created_at, p.last_at) < %(as_of)s::timestamptz - interval '3 days'
),

ranked as (
    select
        candidates.*,
        row_number() over (partition by user_type = 'buyer' order by r_delete, n) as delete_rank
    from candidates
)

select
    n,
    id,
    last_at + interval '1 day'
    + r_when * (%(as_of)s::timestamptz - last_at - interval '2 days') as deleted_at
from ranked
where r_delete < 0.02 or delete_rank = 1;

update g_product as p
set status = 'deleted', quantity_available = 0, updated_at = d.deleted_at
from g_deleted as d
where d.id = p.seller_id;

-- A client with a skewed clock: products saved with updated_at in the future.
with ranked as (
    select
        p,
        pg_temp.rnd(p, 240) as r_future,
        row_number() over (order by pg_temp.rnd(p, 240), p) as future_rank
    from g_product
    where status <> 'deleted'
)

update g_product as g
set updated_at = %(as_of)s::timestamptz + interval '2 days'
+ pg_temp.rnd(g.p, 241) * interval '28 days'
from ranked as r
where r.p = g.p and (r.r_future < 0.01 or r.future_rank = 1);

-- Tier history: contiguous rows from the day the user became a seller; one seller is
-- promoted straight from bronze to gold; a deleted seller's last row ends at deleted_at.
create temp table g_tier as
with sellers as (
    select
        s.sidx,
        s.n,
        s.id as user_id,
        s.seller_since,
        d.deleted_at,
        coalesce(d.deleted_at, %(as_of)s::timestamptz) as end_at,
        pg_temp.rnd(s.n, 801) as r_pattern,
        row_number() over (order by pg_temp.rnd(s.n, 802), s.n) as skip_rank
    from g_seller as s
    left join g_deleted as d on d.id = s.id
),

patterned as (
    select
        sellers.*,
        case
            when skip_rank = 1 then array['bronze', 'gold']
            when r_pattern < 0.45 then array['bronze']
            when r_pattern < 0.70 then array['bronze', 'silver']
            when r_pattern < 0.82 then array['bronze', 'silver', 'gold']
            when r_pattern < 0.87 then array['bronze', 'silver', 'gold', 'platinum']
            when r_pattern < 0.93 then array['bronze', 'gold']
            when r_pattern < 0.97 then array['bronze', 'silver', 'bronze']
            else array['bronze', 'silver', 'gold', 'silver']
        end as tiers
    from sellers
),

tier_rows as (
    select
        p.sidx,
        p.n,
        p.user_id,
        p.deleted_at,
        j,
        cardinality(p.tiers) as k,
        p.tiers[j] as tier,
        case when j > 1 then p.tiers[j - 1] end as previous_tier,
        case
            when j = 1 then p.seller_since
            else p.seller_since + (p.end_at - p.seller_since)
            * ((j - 2) + 0.1 + 0.8 * pg_temp.rnd(p.n * 10 + j, 803))
            / (cardinality(p.tiers) - 1)
        end as effective_from
    from patterned as p
    cross join lateral generate_series(1, cardinality(p.tiers)) as j
)

select
    tier_rows.*,
    coalesce(
        lead(effective_from) over (partition by user_id order by j), deleted_at
    ) as effective_to,
    j = k and deleted_at is null as is_current,
    case
        when j = 1 then 'onboarding'
        when
            array_position(array['bronze', 'silver', 'gold', 'platinum'], tier)
            > array_position(array['bronze', 'silver', 'gold', 'platinum'], previous_tier) + 1
            then 'manual_review'
        when
            array_position(array['bronze', 'silver', 'gold', 'platinum'], tier)
            > array_position(array['bronze', 'silver', 'gold', 'platinum'], previous_tier)
            then 'sales_threshold_reached'
        else 'performance_review'
    end as change_reason
from tier_rows;

analyze g_tier;
"""

_SEED_EVENTS = """
insert into event_log (
    event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
)
with events as (
    select
        1 as kind,
        u.n as key,
        'user.registered' as event_type,
        'user' as entity_type,
        u.id as entity_id,
        jsonb_build_object(
            'user_type', case when u.type_changed then 'buyer' else u.user_type end,
            'country_code', u.country_code
        ) as event_data,
        u.created_at as event_timestamp
    from g_user as u
    union all
    select
        2,
        u.n,
        'user.type_changed',
        'user',
        u.id,
        jsonb_build_object('from', 'buyer', 'to', 'both'),
        u.seller_since
    from g_user as u
    where u.type_changed
    union all
    select
        3,
        d.n,
        'user.deleted',
        'user',
        d.id,
        '{}'::jsonb,
        d.deleted_at
    from g_deleted as d
    union all
    select
        4,
        t.n * 10 + t.j,
        'seller.tier_changed',
        'user',
        t.user_id,
        jsonb_build_object('from', t.previous_tier, 'to', t.tier, 'reason', t.change_reason),
        t.effective_from
    from g_tier as t
    where t.j > 1
    union all
    select
        5,
        o.o,
        'order.created',
        'order',
        o.id,
        jsonb_build_object(
            'order_number', o.order_number,
            'buyer_id', o.buyer_id,
            'total_amount', o.total_amount,
            'currency', o.currency
        ),
        o.created_at
    from g_order as o
    union all
    select
        6,
        o.o * 10 + x.step,
        'order.status_changed',
        'order',
        o.id,
        jsonb_build_object('order_number', o.order_number, 'from', x.previous, 'to', x.status),
        x.at
    from g_order as o
    cross join lateral (
        values
        (1, 'pending', 'confirmed', o.confirmed_at),
        (2, 'confirmed', 'processing', o.processing_at),
        (3, 'processing', 'shipped', o.shipped_at),
        (4, 'shipped', 'delivered', o.delivered_at),
        (
            5,
            case
                when o.processing_at is not null then 'processing'
                when o.confirmed_at is not null then 'confirmed'
                else 'pending'
            end,
            'cancelled',
            o.cancelled_at
        ),
        (6, 'delivered', 'refunded', o.refunded_at)
    ) as x (step, previous, status, at)
    where x.at is not null
),

received as (
    select
        events.*,
        event_timestamp + case
            -- buffered on a device: minutes to two days late
            when pg_temp.rnd(key * 10 + kind, 901) < 0.03
                then (60 + 172800 * pg_temp.rnd(key * 10 + kind, 902) ^ 2) * interval '1 second'
            else (0.02 + 3 * pg_temp.rnd(key * 10 + kind, 902)) * interval '1 second'
        end as received_at
    from events
)

select
    event_type,
    entity_type,
    entity_id,
    event_data,
    event_timestamp,
    received_at,
    received_at < %(as_of)s::timestamptz - interval '1 hour'
    and pg_temp.rnd(key * 10 + kind, 903) >= 0.002 as processed
from received
where received_at < %(as_of)s::timestamptz
order by received_at, kind, key;
"""

# --- seed: load into the application's tables ------------------------------------------------

_SEED_LOAD = {
    "users": """
insert into users (
    id, email, username, user_type, first_name, last_name, country_code, seller_tier,
    seller_rating, created_at, updated_at, deleted_at, is_active
)
select
    u.id,
    u.email,
    u.username,
    u.user_type,
    u.first_name,
    u.last_name,
    u.country_code,
    t.tier,
    r.rating,
    u.created_at,
    greatest(
        u.created_at,
        case when u.type_changed then u.seller_since end,
        case when t.k > 1 then t.effective_from end,
        d.deleted_at,
        case
            when u.r_edit < 0.3
                then u.created_at
                + u.r_edit_at ^ 2 * (coalesce(d.deleted_at, %(as_of)s::timestamptz) - u.created_at)
        end
    ),
    d.deleted_at,
    d.deleted_at is null
from g_user as u
left join g_tier as t on t.user_id = u.id and t.j = t.k
left join g_deleted as d on d.id = u.id
left join (
    select
        seller_id,
        round(avg(rating), 2) as rating
    from g_review
    where status = 'approved'
    group by seller_id
) as r on r.seller_id = u.id
order by u.n
""",
    "products": """
insert into products (
    id, seller_id, category_id, title, description, price_amount, price_currency,
    quantity_available, status, tags, attributes, created_at, updated_at, published_at
)
select
    id, seller_id, category_id, title, description, price_amount, price_currency,
    quantity_available, status, tags, attributes, created_at, updated_at, published_at
from g_product
""",
    "orders": """
insert into orders (
    id, order_number, buyer_id, status, subtotal_amount, shipping_amount, tax_amount,
    discount_amount, total_amount, currency, shipping_country, shipping_city,
    shipping_postal_code, created_at, updated_at, confirmed_at, shipped_at, delivered_at
)
select
    id, order_number, buyer_id, status, subtotal_amount, shipping_amount, tax_amount,
    discount_amount, total_amount, currency, shipping_country, shipping_city,
    shipping_postal_code, created_at, updated_at,
    confirmed_at at time zone 'UTC',
    shipped_at, delivered_at
from g_order
""",
    "order_items": """
insert into order_items (
    id, order_id, product_id, seller_id, quantity, unit_price, total_price, currency,
    product_title, product_snapshot, created_at
)
select
    i.id,
    i.order_id,
    i.product_id,
    i.seller_id,
    i.quantity,
    i.unit_price,
    i.total_price,
    i.currency,
    l.title,
    l.product_snapshot,
    i.created_at
from g_item as i
inner join g_listing as l on l.sidx = i.sidx and l.lidx = i.lidx
""",
    "payments": """
insert into payments (
    id, order_id, payment_provider, payment_provider_id, amount, currency, platform_fee,
    seller_payout, status, created_at, processed_at, event_id, event_timestamp
)
select
    id, order_id, payment_provider, payment_provider_id, amount, currency, platform_fee,
    seller_payout, status, created_at, processed_at, event_id, event_timestamp
from g_payment
""",
    "reviews": """
insert into reviews (
    id, product_id, order_item_id, reviewer_id, rating, title, body, is_verified_purchase,
    helpful_votes, status, moderated_at, created_at, updated_at
)
select
    id, product_id, order_item_id, reviewer_id, rating, title, body, is_verified_purchase,
    helpful_votes, status, moderated_at, created_at, updated_at
from g_review
""",
    "seller_tier_history": """
insert into seller_tier_history (
    user_id, tier, effective_from, effective_to, is_current, change_reason, created_at
)
select user_id, tier, effective_from, effective_to, is_current, change_reason, effective_from
from g_tier
order by sidx, j
""",
}


# --- constraints during the bulk load --------------------------------------------------------


def _suspend_constraints(conn: psycopg.Connection) -> list[sql.Composable]:
    """Drop the marketplace tables' keys, foreign keys and indexes; return what restores them.

    Building an index once after the load is several times faster than maintaining it row by
    row, and one anti-join per foreign key is faster than a trigger per row. Runs inside the
    seed's transaction, so other sessions never see the tables without their constraints.
    """
    tables = list(TABLES)
    constraints = conn.execute(
        """
        select n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid), con.contype
        from pg_constraint as con
        inner join pg_class as c on c.oid = con.conrelid
        inner join pg_namespace as n on n.oid = c.relnamespace
        where con.conrelid = any(%(tables)s::regclass[]) and con.contype in ('p', 'u', 'f')
        order by con.contype = 'f' desc, c.relname, con.conname
        """,
        {"tables": tables},
    ).fetchall()
    indexes = conn.execute(
        """
        select n.nspname, i.relname, pg_get_indexdef(x.indexrelid)
        from pg_index as x
        inner join pg_class as i on i.oid = x.indexrelid
        inner join pg_namespace as n on n.oid = i.relnamespace
        where
            x.indrelid = any(%(tables)s::regclass[])
            and not exists (select 1 from pg_constraint as con where con.conindid = x.indexrelid)
        order by i.relname
        """,
        {"tables": tables},
    ).fetchall()
    restore: list[sql.Composable] = []
    for schema, table, name, _, _ in constraints:  # foreign keys first
        conn.execute(
            sql.SQL("alter table {} drop constraint {}").format(
                sql.Identifier(schema, table), sql.Identifier(name)
            )
        )
    for schema, name, _ in indexes:
        conn.execute(sql.SQL("drop index {}").format(sql.Identifier(schema, name)))
    for schema, table, name, definition, _ in reversed(constraints):  # keys before foreign keys
        restore.append(
            sql.SQL("alter table {} add constraint {} {}").format(
                sql.Identifier(schema, table), sql.Identifier(name), sql.SQL(definition)
            )
        )
    restore.extend(sql.SQL(definition) for _, _, definition in indexes)
    return restore


# --- seed ------------------------------------------------------------------------------------


def _default_as_of() -> datetime:
    return datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)


def seed(
    url: str,
    scale: float = 1,
    *,
    seed: int = 42,
    as_of: datetime | None = None,
    progress: Progress = None,
) -> dict[str, int]:
    """Create the marketplace schema and replace its contents with a year of history.

    Scale 1 is about 500 users, 400 products and 2,000 orders; sizes grow linearly. The same
    (scale, seed, as_of) always gives identical tables. `as_of` (default: today 00:00 UTC) ends
    the history; nothing but the deliberately future-dated products lies after it. Also
    creates the optional indexes in CURSOR_INDEXES. Runs in one transaction, which drops the
    tables' keys and indexes while it loads and restores them, unchanged, before it commits.
    Returns the row count of every table.
    """
    if not scale > 0:
        raise HeadwaterError(f"scale must be positive, got {scale}")
    as_of = _default_as_of() if as_of is None else _utc(as_of)
    t0 = as_of - timedelta(days=DAYS_OF_HISTORY)
    params: dict[str, object] = {
        "as_of": as_of,
        "t0": t0,
        "n_users": max(40, round(USERS_PER_SCALE * scale)),
        "n_orders": max(20, round(ORDERS_PER_SCALE * scale)),
        "user_span_s": (as_of - timedelta(days=2) - t0).total_seconds(),
        "h_max": DAYS_OF_HISTORY * 24 + 1,
        "names": NAMES_PER_COUNTRY,
        "cities": CITIES_PER_COUNTRY,
        "sentences": SENTENCES,
        "adjectives": len(ADJECTIVES),
        "colors": len(COLORS),
        "review_titles": min(len(titles) for titles in REVIEW_TITLES.values()),
    }
    with db.connect(
        url, what="marketplace source", autocommit=True, cursor_factory=psycopg.ClientCursor
    ) as conn:
        conn.execute(_SESSION)
        with conn.transaction():
            _call(progress, "schema")
            conn.execute(schema_sql("marketplace"))
            conn.execute(
                sql.SQL("truncate {} restart identity cascade").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in TABLES)
                )
            )
            restore = _suspend_constraints(conn)

            _call(progress, "pools")
            _install_helpers(conn, f"seed:{seed}")
            conn.execute(_REFERENCE_TABLES)
            _load_pools(conn, seed)
            categories = _category_rows(t0)
            _copy(conn, "categories", categories)
            conn.execute(
                "select setval(pg_get_serial_sequence('categories', 'id'), max(id)) from categories"
            )

            _call(progress, "users")
            conn.execute(_SEED_USERS, params)
            n_sellers = conn.execute("select count(*) from g_seller").fetchone()[0]
            if n_sellers < 2:
                raise HeadwaterError(f"scale {scale} is too small: it gives fewer than 2 sellers")
            params["n_sellers"] = n_sellers
            params["n_products"] = max(round(PRODUCTS_PER_SCALE * scale), n_sellers)

            _call(progress, "products")
            conn.execute(_SEED_PRODUCTS, params)
            first_bucket = conn.execute(
                "select min(bucket) from g_cum where n_buyers >= 1 and n_sellers >= 2"
            ).fetchone()[0]
            if first_bucket is None:
                raise HeadwaterError(f"scale {scale} is too small: no buyer meets two sellers")
            order_start = t0 + timedelta(hours=first_bucket)
            params["order_start"] = order_start
            params["order_span_s"] = (as_of - order_start).total_seconds() - 60

            _call(progress, "orders")
            conn.execute(_SEED_ORDERS, params)
            _call(progress, "payments and reviews")
            conn.execute(_SEED_PAYMENTS, params)
            _call(progress, "accounts and seller tiers")
            conn.execute(_SEED_ACCOUNTS, params)
            _call(progress, "load")
            counts = {"categories": len(categories)}
            for table, statement in _SEED_LOAD.items():
                counts[table] = conn.execute(statement, params).rowcount
            _call(progress, "event log")
            counts["event_log"] = conn.execute(_SEED_EVENTS, params).rowcount
            _call(progress, "constraints")
            for statement in restore:
                conn.execute(statement)
            for statement in CURSOR_INDEXES:
                conn.execute(statement)
    # No ANALYZE here: autovacuum analyzes the fresh tables within a minute, with no lock held.
    return {table: counts[table] for table in TABLES}


# --- mutate ----------------------------------------------------------------------------------

MUTATION_KINDS = (
    "users_created",
    "type_changes",
    "soft_deletes",
    "products_created",
    "orders_created",
    "order_items_created",
    "payments_created",
    "orders_progressed",
    "orders_cancelled",
    "refunds",
    "webhook_replays",
    "price_updates",
    "stock_updates",
    "future_updated_at",
    "tier_changes",
    "late_commits",
    "events_logged",
)

# Mean minutes an order waits in each open status before it moves on.
_STATUS_MEAN_MINUTES = {
    "pending": 30,
    "confirmed": 8 * 60,
    "processing": 24 * 60,
    "shipped": 4 * 24 * 60,
}

_MUTATE_SESSION = """
set timezone = 'UTC';
set max_parallel_workers_per_gather = 0;
set lock_timeout = '60s';
"""

_MUTATE_REFERENCE = """
create temp table ref_country (
    code char(2),
    currency char(3),
    idx int,
    cum_lo double precision,
    cum_hi double precision,
    tax_rate numeric,
    fx double precision
);
create temp table ref_currency (currency char(3), fx double precision);
"""

_MUTATE_SIZES = """
select
    (select count(*) from users) as users,
    (select count(*) from users where user_type <> 'buyer' and deleted_at is null) as sellers,
    (select count(*) from products) as products,
    (select count(*) from products where status = 'sold_out') as sold_out,
    (select count(*) from orders) as orders,
    (select count(*) from payments) as payments,
    (select coalesce(max(id), 0) from event_log) as last_event
"""

# The late commit: opened before everything else, committed after everything else.
_MUTATE_LATE = """
with target as (
    select
        id,
        status
    from orders
    where status in ('confirmed', 'processing', 'shipped')
    order by md5(%(rs)s || 'late' || id::text)
    limit 1
    for update skip locked
),

moved as (
    update orders as o
    set
        status = case t.status
            when 'confirmed' then 'processing'
            when 'processing' then 'shipped'
            else 'delivered'
        end,
        shipped_at = case
            when t.status = 'processing' then %(ts)s::timestamptz else o.shipped_at
        end,
        delivered_at = case
            when t.status = 'shipped' then %(ts)s::timestamptz else o.delivered_at
        end,
        updated_at = %(ts)s::timestamptz
    from target as t
    where o.id = t.id
    returning o.id, o.order_number, t.status as previous_status, o.status
),

logged as (
    insert into event_log (
        event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
    )
    select
        'order.status_changed',
        'order',
        id,
        jsonb_build_object('order_number', order_number, 'from', previous_status, 'to', status),
        %(ts)s::timestamptz,
        %(ts)s::timestamptz,
        false
    from moved
    returning 1
)

select
    id,
    (select count(*) from logged)
from moved
"""

# Without an open order to move on, the late transaction corrects an address instead.
_MUTATE_LATE_FALLBACK = """
update orders
set shipping_postal_code = shipping_postal_code, updated_at = %(ts)s::timestamptz
where id = (select id from orders order by md5(%(rs)s || 'late' || id::text) limit 1)
returning id, 0
"""

_MUTATE_USERS = """
with params as (
    select count(*) as n0 from users
),

donors as (
    select
        row_number() over (order by id) as d,
        first_name,
        last_name,
        coalesce(nullif(split_part(split_part(email, '@', 1), '.', 1), ''), 'user') as first_handle,
        coalesce(
            nullif(
                regexp_replace(split_part(split_part(email, '@', 1), '.', 2), '[0-9]+$', ''), ''
            ),
            'new'
        ) as last_handle
    from (
        -- a sample of existing names; ids are hashes, so the first ones by id are a mix
        select *
        from users
        where first_name is not null and last_name is not null
        order by id
        limit 5000
    ) as sample
),

donor_count as (
    select count(*) as nd from donors
),

fresh as (
    select
        i,
        p.n0 + i as n,
        pg_temp.uid('user', i) as id,
        case
            when pg_temp.rnd(i, 1) < 0.70 then 'buyer'
            when pg_temp.rnd(i, 1) < 0.85 then 'seller'
            else 'both'
        end as user_type,
        1 + floor(pg_temp.rnd(i, 2) * dc.nd)::int as first_donor,
        1 + floor(pg_temp.rnd(i, 3) * dc.nd)::int as last_donor,
        pg_temp.rnd(i, 4) as r_country
    from generate_series(1, %(k_users)s) as i
    cross join params as p
    cross join donor_count as dc
),

inserted as (
    insert into users (
        id, email, username, user_type, first_name, last_name, country_code, seller_tier,
        seller_rating, created_at, updated_at, deleted_at, is_active
    )
    select
        f.id,
        a.first_handle || '.' || b.last_handle || f.n || '@example.com',
        a.first_handle || '_' || left(b.last_handle, 1) || f.n,
        f.user_type,
        a.first_name,
        b.last_name,
        c.code,
        case when f.user_type <> 'buyer' then 'bronze' end,
        null,
        %(ts)s::timestamptz,
        %(ts)s::timestamptz,
        null,
        true
    from fresh as f
    inner join donors as a on a.d = f.first_donor
    inner join donors as b on b.d = f.last_donor
    inner join ref_country as c on f.r_country >= c.cum_lo and f.r_country < c.cum_hi
    returning id, user_type, country_code
),

tiers as (
    insert into seller_tier_history (
        user_id, tier, effective_from, effective_to, is_current, change_reason, created_at
    )
    select id, 'bronze', %(ts)s::timestamptz, null, true, 'onboarding', %(ts)s::timestamptz
    from inserted
    where user_type <> 'buyer'
),

logged as (
    insert into event_log (
        event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
    )
    select
        'user.registered',
        'user',
        id,
        jsonb_build_object('user_type', user_type, 'country_code', country_code),
        %(ts)s::timestamptz,
        %(ts)s::timestamptz,
        false
    from inserted
    returning 1
)

select
    (select count(*) from inserted),
    (select count(*) from logged)
"""

_MUTATE_TYPE_CHANGES = """
with picked as (
    select id
    from users
    where user_type = 'buyer' and deleted_at is null and created_at < %(ts)s::timestamptz
    order by md5(%(rs)s || 'type' || id::text)
    limit %(k_type_changes)s
),

changed as (
    update users as u
    set user_type = 'both', seller_tier = 'bronze', updated_at = %(ts)s::timestamptz
    from picked
    where u.id = picked.id
    returning u.id
),

tiers as (
    insert into seller_tier_history (
        user_id, tier, effective_from, effective_to, is_current, change_reason, created_at
    )
    select id, 'bronze', %(ts)s::timestamptz, null, true, 'onboarding', %(ts)s::timestamptz
    from changed
),

logged as (
    insert into event_log (
        event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
    )
    select
        'user.type_changed',
        'user',
        id,
        jsonb_build_object('from', 'buyer', 'to', 'both'),
        %(ts)s::timestamptz,
        %(ts)s::timestamptz,
        false
    from changed
    returning 1
)

select
    (select count(*) from changed),
    (select count(*) from logged)
"""

# New sellers list one to three products, modelled on existing ones, in their own currency.
_MUTATE_NEW_PRODUCTS = """
with sellers as (
    select
        u.id,
        c.currency,
        c.fx,
        row_number() over (order by u.id) as s
    from users as u
    inner join ref_country as c on c.code = coalesce(u.country_code, 'US')
    where
        u.user_type <> 'buyer'
        and u.deleted_at is null
        and u.updated_at = %(ts)s::timestamptz
        and not exists (select 1 from products as p where p.seller_id = u.id)
),

donors as (
    select
        row_number() over (order by p.id) as d,
        p.category_id,
        p.title,
        p.description,
        p.tags,
        p.attributes,
        p.price_amount / r.fx as price_usd
    from (select * from products where status = 'active' order by id limit 5000) as p
    inner join ref_currency as r on r.currency = p.price_currency
),

donor_count as (
    select count(*) as nd from donors
),

fresh as (
    select
        s.id as seller_id,
        s.currency,
        s.fx,
        s.s * 10 + j as key,
        1 + floor(pg_temp.rnd(s.s * 10 + j, 20) * dc.nd)::int as donor
    from sellers as s
    cross join donor_count as dc
    cross join lateral generate_series(1, 1 + floor(pg_temp.rnd(s.s, 21) * 3)::int) as j
),

inserted as (
    insert into products (
        id, seller_id, category_id, title, description, price_amount, price_currency,
        quantity_available, status, tags, attributes, created_at, updated_at, published_at
    )
    select
        pg_temp.uid('product', f.key),
        f.seller_id,
        d.category_id,
        d.title,
        d.description,
        pg_temp.price(d.price_usd * f.fx, f.currency),
        f.currency,
        5 + floor(pg_temp.rnd(f.key, 22) * 40)::int,
        'active',
        d.tags,
        d.attributes,
        %(ts)s::timestamptz,
        %(ts)s::timestamptz,
        %(ts)s::timestamptz
    from fresh as f
    inner join donors as d on d.d = f.donor
    returning 1
)

select count(*) from inserted
"""

_MUTATE_SOFT_DELETES = """
with open_orders as (
    select buyer_id as user_id
    from orders
    where status in ('pending', 'confirmed', 'processing', 'shipped')
    union
    select i.seller_id
    from order_items as i
    inner join orders as o on o.id = i.order_id
    where o.status in ('pending', 'confirmed', 'processing', 'shipped')
),

picked as (
    select u.id
    from users as u
    where
        u.deleted_at is null
        and u.updated_at < %(ts)s::timestamptz
        and not exists (select 1 from open_orders as x where x.user_id = u.id)
    order by md5(%(rs)s || 'delete' || u.id::text)
    limit %(k_deletes)s
),

deleted as (
    update users as u
    set deleted_at = %(ts)s::timestamptz, is_active = false, updated_at = %(ts)s::timestamptz
    from picked
    where u.id = picked.id
    returning u.id
),

tiers as (
    update seller_tier_history as h
    set effective_to = %(ts)s::timestamptz, is_current = false
    from picked
    where h.user_id = picked.id and h.is_current
),

delisted as (
    update products as p
    set status = 'deleted', quantity_available = 0, updated_at = %(ts)s::timestamptz
    from picked
    where p.seller_id = picked.id and p.status <> 'deleted'
),

logged as (
    insert into event_log (
        event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
    )
    select 'user.deleted', 'user', id, '{}'::jsonb, %(ts)s::timestamptz, %(ts)s::timestamptz, false
    from deleted
    returning 1
)

select
    (select count(*) from deleted),
    (select count(*) from logged)
"""

# New orders: who can buy, what can be sold, then orders, lines, pending payments, stock.
_MUTATE_ORDERS = """
create temp table m_buyer on commit drop as
select
    row_number() over (order by id) as bidx,
    id,
    country_code
from users
where user_type in ('buyer', 'both') and deleted_at is null and is_active;

create temp table m_listing on commit drop as
select
    p.seller_id,
    row_number() over (partition by p.seller_id order by p.id) as lidx,
    p.id as product_id,
    p.title,
    p.category_id,
    p.price_amount,
    p.price_currency,
    p.quantity_available
from products as p
inner join users as u on u.id = p.seller_id
where
    p.status = 'active'
    and p.quantity_available > 0
    and p.updated_at <= %(ts)s::timestamptz
    and u.deleted_at is null;

create temp table m_seller on commit drop as
select
    row_number() over (order by l.seller_id) as sidx,
    l.seller_id,
    u.country_code,
    min(l.price_currency) as currency,
    count(*) as n_listed
from m_listing as l
inner join users as u on u.id = l.seller_id
group by l.seller_id, u.country_code;

-- Shipping addresses seen before, a fixed sample (orders by id, which is a hash).
create temp table m_address on commit drop as
with sample as (
    select
        shipping_country,
        shipping_city,
        shipping_postal_code
    from orders
    where shipping_city is not null
    order by id
    limit 2000
)

select
    sample.*,
    row_number() over (
        partition by shipping_country order by shipping_city, shipping_postal_code
    ) as idx,
    row_number() over (order by shipping_country, shipping_city, shipping_postal_code) as gidx,
    count(*) over (partition by shipping_country) as n_country,
    count(*) over () as n_all
from sample;

create temp table m_order on commit drop as
with counts as (
    select
        (select count(*) from m_buyer) as nb,
        (select count(*) from m_seller) as ns,
        (select count(*) from m_address) as na
),

base as (
    select
        i,
        c.ns,
        c.na,
        1 + floor(pg_temp.rnd(i, 31) * c.nb)::int as bidx,
        1 + floor(pg_temp.rnd(i, 32) * c.ns)::int as sidx0
    from generate_series(1, %(k_orders)s) as i
    cross join counts as c
),

matched as (
    select
        b.i,
        b.na,
        bu.id as buyer_id,
        bu.country_code as buyer_country,
        s.seller_id,
        s.currency,
        s.country_code as seller_country,
        s.n_listed,
        s.sidx
    from base as b
    inner join m_buyer as bu on bu.bidx = b.bidx
    inner join m_seller as s0 on s0.sidx = b.sidx0
    inner join m_seller as s
        on s.sidx = case when s0.seller_id = bu.id then mod(s0.sidx, b.ns) + 1 else s0.sidx end
)

select
    m.*,
    pg_temp.uid('order', m.i) as id,
    least(
        case
            when pg_temp.rnd(m.i, 33) < 0.20 then 1
            when pg_temp.rnd(m.i, 33) < 0.50 then 2
            when pg_temp.rnd(m.i, 33) < 0.80 then 3
            else 4
        end,
        m.n_listed
    ) as n_items,
    floor(pg_temp.rnd(m.i, 34) * m.n_listed)::int as item_start,
    coalesce(
        (
            select a.gidx
            from m_address as a
            where
                a.shipping_country = m.buyer_country
                and a.idx = 1 + floor(pg_temp.rnd(m.i, 35) * a.n_country)::int
        ),
        1 + floor(pg_temp.rnd(m.i, 36) * m.na)::int
    ) as address,
    pg_temp.rnd(m.i, 37) as r_discount,
    pg_temp.rnd(m.i, 38) as r_discount_rate
from matched as m;

create temp table m_item on commit drop as
select
    o.i,
    o.id as order_id,
    pg_temp.uid('order_item', o.i * 10 + j.j) as id,
    l.product_id,
    o.seller_id,
    q.quantity,
    l.price_amount as unit_price,
    q.quantity * l.price_amount as total_price,
    l.price_currency as currency,
    l.title as product_title,
    jsonb_build_object(
        'title', l.title,
        'price_amount', l.price_amount,
        'price_currency', l.price_currency,
        'category_id', l.category_id
    ) as product_snapshot
from m_order as o
inner join generate_series(1, 4) as j (j) on j.j <= o.n_items
inner join m_listing as l
    on l.seller_id = o.seller_id and l.lidx = mod(o.item_start + j.j - 1, o.n_listed) + 1
cross join lateral (
    select
        least(
            case when pg_temp.rnd(o.i * 10 + j.j, 39) < 0.8 then 1 else 2 end,
            l.quantity_available
        ) as quantity
) as q;

with sums as (
    select
        i,
        sum(total_price) as subtotal
    from m_item
    group by i
),

day as (
    select coalesce(max(right(order_number, 5)::int), 0) as last_seq
    from orders
    where
        order_number between 'ORD-' || to_char(%(ts)s::timestamptz, 'YYYYMMDD') || '-00000'
        and 'ORD-' || to_char(%(ts)s::timestamptz, 'YYYYMMDD') || '-99999'
),

addressed as (
    select
        o.*,
        s.subtotal,
        a.shipping_country,
        a.shipping_city,
        a.shipping_postal_code,
        r.fx
    from m_order as o
    inner join sums as s on s.i = o.i
    inner join m_address as a on a.gidx = o.address
    inner join ref_currency as r on r.currency = o.currency
),

priced as (
    select
        a.*,
        case
            when a.subtotal >= (50 * a.fx)::numeric then 0
            when a.shipping_country = a.seller_country
                then pg_temp.money((4.99 * a.fx)::numeric, a.currency)
            else pg_temp.money((14.99 * a.fx)::numeric, a.currency)
        end as shipping_amount,
        pg_temp.money(a.subtotal * coalesce(c.tax_rate, 0), a.currency) as tax_amount,
        case
            when a.r_discount < 0.12
                then pg_temp.money(
                    a.subtotal * (0.05 + 0.15 * a.r_discount_rate)::numeric, a.currency
                )
            else 0
        end as discount_amount
    from addressed as a
    left join ref_country as c on c.code = a.shipping_country
)

insert into orders (
    id, order_number, buyer_id, status, subtotal_amount, shipping_amount, tax_amount,
    discount_amount, total_amount, currency, shipping_country, shipping_city,
    shipping_postal_code, created_at, updated_at, confirmed_at, shipped_at, delivered_at
)
select
    p.id,
    'ORD-' || to_char(%(ts)s::timestamptz, 'YYYYMMDD') || '-'
    || lpad((d.last_seq + row_number() over (order by p.i))::text, 5, '0'),
    p.buyer_id,
    'pending',
    p.subtotal,
    p.shipping_amount,
    p.tax_amount,
    p.discount_amount,
    p.subtotal + p.shipping_amount + p.tax_amount - p.discount_amount,
    p.currency,
    p.shipping_country,
    p.shipping_city,
    p.shipping_postal_code,
    %(ts)s::timestamptz,
    %(ts)s::timestamptz,
    null,
    null,
    null
from priced as p
cross join day as d;

insert into order_items (
    id, order_id, product_id, seller_id, quantity, unit_price, total_price, currency,
    product_title, product_snapshot, created_at
)
select
    id, order_id, product_id, seller_id, quantity, unit_price, total_price, currency,
    product_title, product_snapshot, %(ts)s::timestamptz
from m_item;

-- Checkout opens a payment; the provider confirms it later (see the progress step).
insert into payments (
    id, order_id, payment_provider, payment_provider_id, amount, currency, platform_fee,
    seller_payout, status, created_at, processed_at, event_id, event_timestamp
)
select
    pg_temp.uid('payment', m.i),
    o.id,
    case
        when pg_temp.rnd(m.i, 40) < 0.60 then 'stripe'
        when pg_temp.rnd(m.i, 40) < 0.85 then 'adyen'
        else 'paypal'
    end,
    case
        when pg_temp.rnd(m.i, 40) < 0.60 then 'pi_' || left(pg_temp.hex('psp', m.i), 24)
        when pg_temp.rnd(m.i, 40) < 0.85 then upper(left(pg_temp.hex('psp', m.i), 16))
        else 'PAYID-' || upper(left(pg_temp.hex('psp', m.i), 24))
    end,
    o.total_amount,
    o.currency,
    f.fee,
    o.total_amount - f.fee,
    'pending',
    %(ts)s::timestamptz,
    null,
    'evt_' || left(pg_temp.hex('payment-event', m.i), 24),
    %(ts)s::timestamptz
from m_order as m
inner join orders as o on o.id = m.id
inner join ref_currency as r on r.currency = o.currency
cross join lateral (
    select
        least(
            o.total_amount,
            pg_temp.money(o.total_amount * 0.08 + (0.30 * r.fx)::numeric, o.currency)
        ) as fee
) as f;

with sold as (
    select
        product_id,
        sum(quantity) as quantity
    from m_item
    group by product_id
)

update products as p
set
    quantity_available = greatest(p.quantity_available - s.quantity, 0),
    status = case when p.quantity_available - s.quantity <= 0 then 'sold_out' else p.status end,
    updated_at = %(ts)s::timestamptz
from sold as s
where p.id = s.product_id;

insert into event_log (
    event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
)
select
    'order.created',
    'order',
    o.id,
    jsonb_build_object(
        'order_number', o.order_number,
        'buyer_id', o.buyer_id,
        'total_amount', o.total_amount,
        'currency', o.currency
    ),
    %(ts)s::timestamptz,
    %(ts)s::timestamptz,
    false
from m_order as m
inner join orders as o on o.id = m.id;
"""

_MUTATE_ORDER_COUNTS = """
select
    (select count(*) from m_order),
    (select count(*) from m_item),
    (select count(distinct product_id) from m_item)
"""

_MUTATE_STATUS_COUNTS = """
select status, count(*)
from orders
where
    status in ('pending', 'confirmed', 'processing', 'shipped')
    and (status <> 'pending' or created_at > %(ts)s::timestamptz - interval '2 days')
group by status
"""

# Orders move one step on; a confirmation captures the payment.
_MUTATE_PROGRESS = """
create temp table m_moved on commit drop as
with quota (status, k) as (
    values
    ('pending', %(k_pending)s),
    ('confirmed', %(k_confirmed)s),
    ('processing', %(k_processing)s),
    ('shipped', %(k_shipped)s)
),

ranked as (
    select
        o.id,
        o.order_number,
        o.status,
        row_number() over (
            partition by o.status order by md5(%(rs)s || 'progress' || o.id::text)
        ) as rn
    from orders as o
    where
        o.status in ('pending', 'confirmed', 'processing', 'shipped')
        and o.id is distinct from %(late_id)s::uuid
        -- checkouts left pending for days are abandoned: they never get paid
        and (o.status <> 'pending' or o.created_at > %(ts)s::timestamptz - interval '2 days')
)

select
    r.id,
    r.order_number,
    r.status as previous_status,
    case r.status
        when 'pending' then 'confirmed'
        when 'confirmed' then 'processing'
        when 'processing' then 'shipped'
        else 'delivered'
    end as status
from ranked as r
inner join quota as q on q.status = r.status
where r.rn <= q.k;

update orders as o
set
    status = m.status,
    confirmed_at = case
        when m.status = 'confirmed' then %(ts)s::timestamptz at time zone 'UTC'
        else o.confirmed_at
    end,
    shipped_at = case when m.status = 'shipped' then %(ts)s::timestamptz else o.shipped_at end,
    delivered_at = case
        when m.status = 'delivered' then %(ts)s::timestamptz else o.delivered_at
    end,
    updated_at = %(ts)s::timestamptz
from m_moved as m
where o.id = m.id;

update payments as p
set
    status = 'completed',
    processed_at = %(ts)s::timestamptz,
    event_id = 'evt_' || left(md5(%(rs)s || 'captured' || p.order_id::text), 24),
    event_timestamp = %(ts)s::timestamptz
from m_moved as m
where m.id = p.order_id and m.status = 'confirmed' and p.status in ('pending', 'processing');

insert into event_log (
    event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
)
select
    'order.status_changed',
    'order',
    id,
    jsonb_build_object('order_number', order_number, 'from', previous_status, 'to', status),
    %(ts)s::timestamptz,
    %(ts)s::timestamptz,
    false
from m_moved;
"""

# Orders confirmed without a payment in flight (checkout never opened one, or it failed and
# the buyer paid again) get a captured payment now.
_MUTATE_CAPTURE_MISSING = """
with inserted as (
    insert into payments (
        id, order_id, payment_provider, payment_provider_id, amount, currency, platform_fee,
        seller_payout, status, created_at, processed_at, event_id, event_timestamp
    )
    select
    md5(%(rs)s || 'payment' || o.id::text)::uuid,
    o.id,
    'stripe',
    'pi_' || left(md5(%(rs)s || 'psp' || o.id::text), 24),
    o.total_amount,
    o.currency,
    f.fee,
    o.total_amount - f.fee,
    'completed',
    %(ts)s::timestamptz,
    %(ts)s::timestamptz,
    'evt_' || left(md5(%(rs)s || 'captured' || o.id::text), 24),
    %(ts)s::timestamptz
from m_moved as m
inner join orders as o on o.id = m.id
inner join ref_currency as r on r.currency = o.currency
cross join lateral (
    select
        least(
            o.total_amount,
            pg_temp.money(o.total_amount * 0.08 + (0.30 * r.fx)::numeric, o.currency)
        ) as fee
) as f
where
    m.status = 'confirmed'
    and not exists (
        select 1 from payments as p where p.order_id = o.id and p.status = 'completed'
    )
    returning 1
)

select count(*) from inserted
"""


# Cancellations (before shipping) and refunds (after delivery). Money paid goes back: the
# payment becomes `refunded` with no payout; an unpaid payment fails.
_MUTATE_CANCEL_REFUND = """
create temp table m_closed on commit drop as
with cancel as (
    select
        id,
        order_number,
        status as previous_status,
        'cancelled' as status
    from orders
    where
        status in ('pending', 'confirmed')
        and id is distinct from %(late_id)s::uuid
        and updated_at < %(ts)s::timestamptz
    order by md5(%(rs)s || 'cancel' || id::text)
    limit %(k_cancel)s
),

refund as (
    select
        id,
        order_number,
        status as previous_status,
        'refunded' as status
    from orders
    where
        status = 'delivered'
        and id is distinct from %(late_id)s::uuid
        and delivered_at >= (select max(delivered_at) from orders) - interval '30 days'
    order by md5(%(rs)s || 'refund' || id::text)
    limit %(k_refund)s
)

select * from cancel
union all
select * from refund;

update orders as o
set status = m.status, updated_at = %(ts)s::timestamptz
from m_closed as m
where o.id = m.id;

update payments as p
set
    status = case when p.status in ('pending', 'processing') then 'failed' else 'refunded' end,
    seller_payout = case
        when p.status in ('pending', 'processing') then p.seller_payout else 0
    end,
    processed_at = coalesce(p.processed_at, %(ts)s::timestamptz),
    event_id = 'evt_' || left(md5(%(rs)s || 'closed' || p.order_id::text), 24),
    event_timestamp = %(ts)s::timestamptz
from m_closed as m
where
    m.id = p.order_id
    and p.status in ('pending', 'processing', 'completed', 'disputed');

insert into event_log (
    event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
)
select
    'order.status_changed',
    'order',
    id,
    jsonb_build_object('order_number', order_number, 'from', previous_status, 'to', status),
    %(ts)s::timestamptz,
    %(ts)s::timestamptz,
    false
from m_closed;
"""

_MUTATE_CLOSED_COUNTS = """
select
    count(*) filter (where status = 'cancelled'),
    count(*) filter (where status = 'refunded')
from m_closed
"""

# The provider delivers a recent webhook again; the handler stores it as a new payment row.
_MUTATE_REPLAYS = """
with recent as (
    select *
    from payments
    order by created_at desc, id
    limit 200
),

picked as (
    select *
    from recent
    order by md5(%(rs)s || 'replay' || id::text)
    limit %(k_replay)s
),

inserted as (
    insert into payments (
        id, order_id, payment_provider, payment_provider_id, amount, currency, platform_fee,
        seller_payout, status, created_at, processed_at, event_id, event_timestamp
    )
    select
        md5(%(rs)s || 'replay' || id::text)::uuid,
        order_id,
        payment_provider,
        payment_provider_id,
        amount,
        currency,
        platform_fee,
        seller_payout,
        status,
        %(ts)s::timestamptz,
        processed_at,
        event_id,
        event_timestamp
    from picked
    returning 1
)

select count(*) from inserted
"""

# Sellers reprice and restock; one client with a skewed clock saves a product in the future.
_MUTATE_PRODUCTS = """
create temp table m_product on commit drop as
with ranked as (
    select
        id,
        row_number() over (order by pg_temp.urnd(id, 50), id) as rn
    from products
    where status in ('active', 'paused') and updated_at < %(ts)s::timestamptz
),

restock as (
    select id
    from products
    where status = 'sold_out' and updated_at < %(ts)s::timestamptz
    order by pg_temp.urnd(id, 51), id
    limit %(k_restock)s
)

select
    id,
    case when rn <= %(k_price)s then 'price' else 'future' end as change
from ranked
where rn <= %(k_price)s + %(k_future)s
union all
select
    id,
    'restock'
from restock;

update products as p
set
    price_amount = case
        when m.change = 'price'
            then pg_temp.price(
                p.price_amount::double precision * (0.85 + 0.3 * pg_temp.urnd(p.id, 52)),
                p.price_currency
            )
        else p.price_amount
    end,
    quantity_available = case
        when m.change = 'restock' then 5 + floor(pg_temp.urnd(p.id, 53) * 50)::int
        when m.change = 'future' then p.quantity_available + 1
        else p.quantity_available
    end,
    status = case when m.change = 'restock' then 'active' else p.status end,
    updated_at = case
        when m.change = 'future'
            then %(ts)s::timestamptz + interval '1 day'
            + pg_temp.urnd(p.id, 54) * interval '29 days'
        else %(ts)s::timestamptz
    end
from m_product as m
where m.id = p.id;
"""

_MUTATE_PRODUCT_COUNTS = """
select
    count(*) filter (where change = 'price'),
    count(*) filter (where change = 'future'),
    count(*) filter (where change = 'restock')
from m_product
"""

# Tier reviews: mostly one step up, sometimes two (bronze to gold), sometimes down.
_MUTATE_TIERS = """
create temp table m_tier on commit drop as
with picked as (
    select
        u.id,
        u.seller_tier,
        array_position(array['bronze', 'silver', 'gold', 'platinum'], u.seller_tier) as rank,
        pg_temp.urnd(u.id, 60) as r_move
    from users as u
    where
        u.user_type <> 'buyer'
        and u.deleted_at is null
        and u.seller_tier is not null
        and u.updated_at < %(ts)s::timestamptz
        and exists (
            select 1 from seller_tier_history as h where h.user_id = u.id and h.is_current
        )
    order by md5(%(rs)s || 'tier' || u.id::text)
    limit %(k_tier)s
)

select
    id,
    seller_tier as previous_tier,
    (array['bronze', 'silver', 'gold', 'platinum'])[
        case
            when rank = 4 or (rank > 1 and r_move < 0.1) then rank - 1
            when rank <= 2 and r_move < 0.25 then rank + 2
            else rank + 1
        end
    ] as tier,
    case
        when rank = 4 or (rank > 1 and r_move < 0.1) then 'performance_review'
        when rank <= 2 and r_move < 0.25 then 'manual_review'
        else 'sales_threshold_reached'
    end as change_reason
from picked;

update users as u
set seller_tier = m.tier, updated_at = %(ts)s::timestamptz
from m_tier as m
where u.id = m.id;

update seller_tier_history as h
set effective_to = %(ts)s::timestamptz, is_current = false
from m_tier as m
where h.user_id = m.id and h.is_current;

insert into seller_tier_history (
    user_id, tier, effective_from, effective_to, is_current, change_reason, created_at
)
select id, tier, %(ts)s::timestamptz, null, true, change_reason, %(ts)s::timestamptz
from m_tier
order by id;

insert into event_log (
    event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
)
select
    'seller.tier_changed',
    'user',
    id,
    jsonb_build_object('from', previous_tier, 'to', tier, 'reason', change_reason),
    %(ts)s::timestamptz,
    %(ts)s::timestamptz,
    false
from m_tier;
"""

# Buffered client events: they happened minutes to hours ago and arrive only now.
_MUTATE_LATE_EVENTS = """
with viewed as (
    select
        id,
        row_number() over (order by pg_temp.urnd(id, 70), id) as rn
    from products
    where status = 'active'
),

inserted as (
    insert into event_log (
        event_type, entity_type, entity_id, event_data, event_timestamp, received_at, processed
    )
    select
        case when pg_temp.rnd(i, 71) < 0.7 then 'product.viewed' else 'cart.item_added' end,
        'product',
        v.id,
        jsonb_build_object('client', 'mobile', 'session', left(pg_temp.hex('session', i), 16)),
        %(ts)s::timestamptz - (30 + pg_temp.rnd(i, 72) * 6 * 3600) * interval '1 second',
        %(ts)s::timestamptz,
        false
    from generate_series(1, %(k_events)s) as i
    inner join viewed as v on v.rn = 1 + mod(i - 1, (select count(*) from viewed))
    order by pg_temp.rnd(i, 72)
    returning 1
)

select count(*) from inserted
"""


def _round_seed(seed: int | None, sizes: dict[str, int]) -> int:
    """Seed of one mutate round: the caller's seed and the database's size, so two rounds with
    the same seed differ, but replaying a round on the same data makes the same changes."""
    if seed is None:
        return secrets.randbits(40)
    state = ":".join(str(sizes[key]) for key in sorted(sizes))
    return _seed_base(f"{seed}:{state}")


def _volumes(minutes: float, sizes: dict[str, int]) -> dict[str, int]:
    """How much happens in `minutes`, from the current size. Recent activity runs at about
    twice the year's average (the business grew), and every kind happens at least once."""
    share = minutes / MINUTES_PER_YEAR
    orders = max(5, round(sizes["orders"] * share * 2))
    return {
        "k_users": max(2, round(sizes["users"] * share * 2)),
        "k_type_changes": max(1, round(sizes["users"] * share * 0.1)),
        "k_deletes": max(1, round(sizes["users"] * share * 0.04)),
        "k_orders": orders,
        "k_cancel": max(1, round(orders * 0.05)),
        "k_refund": max(1, round(orders * 0.03)),
        "k_replay": max(1, round(orders * 0.02)),
        "k_price": max(3, round(sizes["products"] * share * 6)),
        "k_restock": max(1, round(sizes["sold_out"] * (1 - math.exp(-minutes / (7 * 1440))))),
        "k_future": 1,
        "k_tier": max(1, round(sizes["sellers"] * share)),
        "k_events": max(3, orders // 2),
    }


class _Clock:
    """The time of each transaction: its own now(), or `now` plus one second per transaction."""

    def __init__(self, now: datetime | None):
        self.now = now
        self.step = 0

    def tick(self, conn: psycopg.Connection) -> datetime:
        if self.now is None:
            return conn.execute("select now()").fetchone()[0]
        self.step += 1
        return self.now + timedelta(seconds=self.step - 1)


def mutate(
    url: str,
    minutes: float = 60,
    *,
    seed: int | None = None,
    now: datetime | None = None,
    progress: Progress = None,
) -> dict[str, int]:
    """Apply about `minutes` of application activity to a seeded marketplace source.

    Each kind of change runs in its own transaction, and every row it writes carries
    `updated_at` (or `created_at`) = that transaction's `now()`. One transaction, opened first
    on its own connection, moves an order on and commits last: its row's `updated_at` is older
    than rows committed before it. With `seed`, the same database state gives the same
    changes; `now` replaces the clock (transaction k gets `now` + k seconds), which makes the
    timestamps reproducible too. Returns how many changes of each kind were made.
    """
    if not minutes > 0:
        raise HeadwaterError(f"minutes must be positive, got {minutes}")
    now = None if now is None else _utc(now)
    counts = dict.fromkeys(MUTATION_KINDS, 0)
    clock = _Clock(now)
    what = "marketplace source"
    with (
        db.connect(url, what=what, autocommit=True, cursor_factory=psycopg.ClientCursor) as conn,
        db.connect(url, what=what, cursor_factory=psycopg.ClientCursor) as late,
    ):
        conn.execute(_MUTATE_SESSION)
        late.execute(_MUTATE_SESSION)
        late.commit()
        names = ("users", "sellers", "products", "sold_out", "orders", "payments", "last_event")
        try:
            sizes = dict(zip(names, conn.execute(_MUTATE_SIZES).fetchone(), strict=True))
        except psycopg.errors.UndefinedTable:
            sizes = {"orders": 0}
        if sizes["orders"] == 0:
            raise HeadwaterError(
                f"the marketplace source ({db.describe(url)}) has no orders; seed it first"
            )
        round_seed = _round_seed(seed, sizes)
        params: dict[str, object] = {"rs": f"{round_seed}:", **_volumes(minutes, sizes)}
        _install_helpers(conn, f"mutate:{round_seed}")
        conn.execute(_MUTATE_REFERENCE)
        _load_currency_tables(conn)

        # The late transaction starts first and stays open until everything else committed.
        _call(progress, "late transaction")
        late_ts = clock.tick(late)
        late_row = late.execute(_MUTATE_LATE, {**params, "ts": late_ts}).fetchone()
        if late_row is None:
            late_row = late.execute(_MUTATE_LATE_FALLBACK, {**params, "ts": late_ts}).fetchone()
        params["late_id"] = late_row[0] if late_row else None
        counts["events_logged"] += late_row[1] if late_row else 0

        def step(name: str) -> dict[str, object]:
            _call(progress, name)
            return {**params, "ts": clock.tick(conn)}

        with conn.transaction():
            p = step("users")
            created, logged = conn.execute(_MUTATE_USERS, p).fetchone()
            changed, logged_changes = conn.execute(_MUTATE_TYPE_CHANGES, p).fetchone()
            counts["products_created"] += conn.execute(_MUTATE_NEW_PRODUCTS, p).fetchone()[0]
            counts["users_created"] += created
            counts["type_changes"] += changed
            counts["events_logged"] += logged + logged_changes

        with conn.transaction():
            p = step("soft deletes")
            deleted, logged = conn.execute(_MUTATE_SOFT_DELETES, p).fetchone()
            counts["soft_deletes"] += deleted
            counts["events_logged"] += logged

        with conn.transaction():
            p = step("orders")
            conn.execute(_MUTATE_ORDERS, p)
            orders, items, products = conn.execute(_MUTATE_ORDER_COUNTS).fetchone()
            counts["orders_created"] += orders
            counts["order_items_created"] += items
            counts["payments_created"] += orders
            counts["stock_updates"] += products
            counts["events_logged"] += orders

        with conn.transaction():
            p = step("order progress")
            open_orders = dict(conn.execute(_MUTATE_STATUS_COUNTS, p).fetchall())
            for status, mean in _STATUS_MEAN_MINUTES.items():
                n = open_orders.get(status, 0)
                p[f"k_{status}"] = math.ceil(n * (1 - math.exp(-minutes / mean)))
            conn.execute(_MUTATE_PROGRESS, p)
            moved = conn.execute("select count(*) from m_moved").fetchone()[0]
            counts["payments_created"] += conn.execute(_MUTATE_CAPTURE_MISSING, p).fetchone()[0]
            counts["orders_progressed"] += moved
            counts["events_logged"] += moved

        with conn.transaction():
            p = step("cancellations and refunds")
            conn.execute(_MUTATE_CANCEL_REFUND, p)
            cancelled, refunded = conn.execute(_MUTATE_CLOSED_COUNTS).fetchone()
            counts["orders_cancelled"] += cancelled
            counts["refunds"] += refunded
            counts["events_logged"] += cancelled + refunded

        with conn.transaction():
            p = step("webhook replays")
            replays = conn.execute(_MUTATE_REPLAYS, p).fetchone()[0]
            counts["webhook_replays"] += replays
            counts["payments_created"] += replays

        with conn.transaction():
            p = step("products")
            conn.execute(_MUTATE_PRODUCTS, p)
            priced, future, restocked = conn.execute(_MUTATE_PRODUCT_COUNTS).fetchone()
            counts["price_updates"] += priced
            counts["future_updated_at"] += future
            counts["stock_updates"] += restocked

        with conn.transaction():
            p = step("seller tiers")
            conn.execute(_MUTATE_TIERS, p)
            tiers = conn.execute("select count(*) from m_tier").fetchone()[0]
            counts["tier_changes"] += tiers
            counts["events_logged"] += tiers

        with conn.transaction():
            p = step("late events")
            counts["events_logged"] += conn.execute(_MUTATE_LATE_EVENTS, p).fetchone()[0]

        _call(progress, "late commit")
        late.commit()
        counts["late_commits"] += 1 if late_row else 0
    return counts


# --- command line (`headwater seed marketplace`, `headwater mutate marketplace`) -----------------


@click.command("marketplace")
@click.option("--scale", default=1.0, show_default=True, help="1 ≈ 2,000 orders; 500 ≈ 1M orders.")
@click.option(
    "--seed", "rng_seed", default=42, show_default=True, help="Random seed: same seed, same data."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def seed_command(scale: float, rng_seed: int, as_json: bool) -> None:
    """Create the marketplace schema and fill it with a year of history (replaces what is there)."""
    from headwater import cli, config

    if scale <= 0:
        raise HeadwaterError(f"--scale must be positive, got {scale}")
    with cli.steps("seeding marketplace", quiet=as_json) as step:
        counts = seed(config.source_url("marketplace"), scale, seed=rng_seed, progress=step)
    cli.print_counts(counts, "marketplace source seeded", as_json)


@click.command("marketplace")
@click.option(
    "--minutes", default=60.0, show_default=True, help="How much application time to simulate."
)
@click.option(
    "--seed", "rng_seed", type=int, default=None, help="Random seed for a repeatable batch."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def mutate_command(minutes: float, rng_seed: int | None, as_json: bool) -> None:
    """Apply what the marketplace application would do in the next MINUTES."""
    from headwater import cli, config

    if minutes <= 0:
        raise HeadwaterError(f"--minutes must be positive, got {minutes}")
    with cli.steps("mutating marketplace", quiet=as_json) as step:
        counts = mutate(config.source_url("marketplace"), minutes, seed=rng_seed, progress=step)
    cli.print_counts(counts, "marketplace source changed", as_json)


# --- the demo (`make demo`): what `headwater.demo` asks of every domain -------------------------


def demo_seed(scale: float) -> dict[str, int]:
    """Fill the source for the demo's first, full run."""
    from headwater import config

    return seed(config.source_url("marketplace"), scale)


def demo_change(scale: float) -> dict[str, int]:
    """An hour of application changes, for the demo's second, incremental run."""
    from headwater import config

    return mutate(config.source_url("marketplace"), 60.0, seed=7)


# What analysts see afterwards: title → query on the warehouse.
DEMO_REPORT = {
    "GMV by buyer region (USD)": """
        select buyer_region, round(sum(gmv_usd), 2) as gmv_usd, sum(order_count) as orders,
               round(sum(gmv_usd) / nullif(sum(order_count), 0), 2) as avg_order_value_usd
        from analytics.fct_daily_sales
        group by buyer_region
        order by gmv_usd desc
    """,
    "Payment reconciliation": """
        select reconciliation_status, count(*) as orders,
               round(sum(difference_amount_usd), 2) as difference_usd
        from analytics.fct_payment_reconciliation
        group by reconciliation_status
        order by orders desc
    """,
}
