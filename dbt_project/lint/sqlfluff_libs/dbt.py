"""dbt's cross-database macros as dbt-postgres renders them."""


def type_string():
    return "varchar"


def type_numeric():
    return "numeric(28, 6)"


def type_bigint():
    return "bigint"


def type_boolean():
    return "boolean"


def hash(field):  # noqa: A001 - dbt's name
    return f"md5(cast({field} as varchar))"


def concat(fields):
    return " || ".join(fields)


def safe_cast(field, type_):
    return f"cast({field} as {type_})"


def listagg(measure, delimiter_text="','", order_by_clause=None, limit_num=None):
    order = f" {order_by_clause}" if order_by_clause else ""
    return f"string_agg({measure}, {delimiter_text}{order})"


def datediff(first_date, second_date, datepart):
    return f"date_part('{datepart}', ({second_date})::timestamp - ({first_date})::timestamp)"


def dateadd(datepart, interval, from_date_or_timestamp):
    return f"{from_date_or_timestamp} + (interval '1 {datepart}' * ({interval}))"


def date_trunc(datepart, date):
    return f"date_trunc('{datepart}', {date})"


def type_int():
    return "integer"


def current_timestamp():
    return "now()"


def type_float():
    return "float"


def split_part(string_text, delimiter_text, part_number):
    return f"split_part({string_text}, {delimiter_text}, {part_number})"


def right(string_text, length_expression):
    return f"right({string_text}, {length_expression})"
