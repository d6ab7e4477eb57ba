-- The marketplace application's database, as the exercise defines it.
-- The pipeline must run unchanged against a database built from this DDL.

create table if not exists users (
    id uuid primary key,
    email varchar(255) not null unique,
    username varchar(100) not null,
    user_type varchar(20) not null check (user_type in ('buyer', 'seller', 'both')),
    first_name varchar(100),
    last_name varchar(100),
    country_code char(2),
    seller_tier varchar(20) check (seller_tier in ('bronze', 'silver', 'gold', 'platinum')),
    seller_rating numeric(3, 2),
    created_at timestamptz,
    updated_at timestamptz,
    deleted_at timestamptz,
    is_active boolean
);

create table if not exists categories (
    id serial primary key,
    name varchar(100),
    slug varchar(100) unique,
    parent_id int references categories (id),
    level int,
    is_active boolean,
    created_at timestamptz
);

create table if not exists products (
    id uuid primary key,
    seller_id uuid references users (id),
    category_id int references categories (id),
    title varchar(500),
    description text,
    price_amount numeric(12, 2),
    price_currency char(3),
    quantity_available int,
    status varchar(20) check (status in ('draft', 'active', 'paused', 'sold_out', 'deleted')),
    tags text[],
    attributes jsonb,
    created_at timestamptz,
    updated_at timestamptz,
    published_at timestamptz
);

create table if not exists orders (
    id uuid primary key,
    order_number varchar(20) unique,
    buyer_id uuid references users (id),
    status varchar(30) check (
        status in ('pending', 'confirmed', 'processing', 'shipped', 'delivered', 'cancelled', 'refunded')
    ),
    subtotal_amount numeric(12, 2),
    shipping_amount numeric(12, 2),
    tax_amount numeric(12, 2),
    discount_amount numeric(12, 2),
    total_amount numeric(12, 2),
    currency char(3),
    shipping_country char(2),
    shipping_city varchar(100),
    shipping_postal_code varchar(20),
    created_at timestamptz,
    updated_at timestamptz,
    confirmed_at timestamp without time zone,
    shipped_at timestamptz,
    delivered_at timestamptz
);

create table if not exists order_items (
    id uuid primary key,
    order_id uuid references orders (id),
    product_id uuid references products (id),
    seller_id uuid references users (id),
    quantity int,
    unit_price numeric(12, 2),
    total_price numeric(12, 2),
    currency char(3),
    product_title varchar(500),
    product_snapshot jsonb,
    created_at timestamptz
);

create table if not exists payments (
    id uuid primary key,
    order_id uuid references orders (id),
    payment_provider varchar(50),
    payment_provider_id varchar(100),
    amount numeric(12, 2),
    currency char(3),
    platform_fee numeric(12, 2),
    seller_payout numeric(12, 2),
    status varchar(30) check (
        status in ('pending', 'processing', 'completed', 'failed', 'refunded', 'disputed')
    ),
    created_at timestamptz,
    processed_at timestamptz,
    event_id varchar(100),
    event_timestamp timestamptz
);

create table if not exists reviews (
    id uuid primary key,
    product_id uuid references products (id),
    order_item_id uuid references order_items (id),
    reviewer_id uuid references users (id),
    rating int check (rating between 1 and 5),
    title varchar(200),
    body text,
    is_verified_purchase boolean,
    helpful_votes int,
    status varchar(20) check (status in ('pending', 'approved', 'rejected', 'flagged')),
    moderated_at timestamptz,
    created_at timestamptz,
    updated_at timestamptz
);

create table if not exists seller_tier_history (
    id serial primary key,
    user_id uuid references users (id),
    tier varchar(20),
    effective_from timestamptz not null,
    effective_to timestamptz,
    is_current boolean,
    change_reason varchar(100),
    created_at timestamptz
);

create table if not exists event_log (
    id bigserial primary key,
    event_type varchar(50),
    entity_type varchar(50),
    entity_id uuid,
    event_data jsonb,
    event_timestamp timestamptz,
    received_at timestamptz,
    processed boolean
);
