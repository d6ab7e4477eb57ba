"""The project's own macros (macros/) as their postgres__/default__ versions render."""


def generate_surrogate_key(field_list):
    parts = [f"coalesce(cast({field} as varchar), '_headwater_null_')" for field in field_list]
    return "md5(cast(" + " || '-' || ".join(parts) + " as varchar))"


def json_extract_string(json_column, path):
    return f"({json_column} #>> '{{{','.join(path.split('.'))}}}')"


def json_array_length(json_column):
    return f"jsonb_array_length({json_column})"


def json_string_array(json_column):
    return f"array(select jsonb_array_elements_text({json_column}))"


def empty_string_array():
    return "cast(array[] as text [])"


def type_timestamptz():
    return "timestamptz"


def local_to_utc(column, zone):
    return f"({column} at time zone '{zone}')"


def utc_date(column):
    return f"cast(({column} at time zone 'UTC') as date)"


def utc_midnight(date_column):
    return f"(cast({date_column} as timestamp) at time zone 'UTC')"


def month_start(column):
    return f"cast(date_trunc('month', {utc_date(column)}) as date)"


def timestamp_add_minutes(column, minutes):
    return f"({column} + interval '1 minute' * ({minutes}))"


def timestamp_to_string(column):
    return f"to_char(({column} at time zone 'UTC'), 'YYYY-MM-DD HH24:MI:SS.US')"


def convert_to_usd(amount_column, units_per_usd_column):
    return f"round({amount_column} / nullif({units_per_usd_column}, 0), 2)"


def seller_tier_rank(tier_column):
    return (
        f"case {tier_column} when 'bronze' then 1 when 'silver' then 2"
        " when 'gold' then 3 when 'platinum' then 4 end"
    )


def incremental_lower_bound(loaded_at_column="_loaded_at", lookback_minutes=None):
    lookback = 60 if lookback_minutes is None else lookback_minutes
    return (
        f"(coalesce((select max({loaded_at_column}) from this_model),"  # noqa: S608 - lint text
        f" cast('1970-01-01 00:00:00+00:00' as timestamptz)) + interval '1 minute' * (-{lookback}))"
    )


def rows_missing_from_this(upstream):
    # At lint time nothing runs: render the branch without the repair anti-join.
    return False


def unnest_json_array(json_column, path, element, position):
    return (
        f"cross join lateral jsonb_array_elements({json_column} -> '{path}')"
        f" with ordinality as {element}_elements ({element}, {position})"
    )


def json_array_position(position):
    return position


def utc_trunc(datepart, column):
    return f"date_trunc('{datepart}', {column}, 'UTC')"


def utc_hour(column):
    return f"cast(extract(hour from ({column} at time zone 'UTC')) as integer)"


def seconds_between(start_column, end_column):
    return f"extract(epoch from ({end_column} - {start_column}))"


def sha256_hex(expression):
    return f"encode(sha256(convert_to({expression}, 'UTF8')), 'hex')"


def age_band(birth_date, at_date):
    years = f"floor((({at_date})::date - ({birth_date})::date) / 365.25)"
    return (
        f"case when {birth_date} is null then null when {years} < 25 then '18-24' "
        f"when {years} < 35 then '25-34' when {years} < 45 then '35-44' "
        f"when {years} < 55 then '45-54' when {years} < 65 then '55-64' else '65+' end"
    )


def week_start(date_column):
    return f"cast(date_trunc('week', {date_column}) as date)"


def stored_in_order(columns):
    return "order by " + ", ".join(columns)
