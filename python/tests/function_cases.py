"""The function cases of test_functions.py, shared with the script that produced Spark's answers
(python/spark_reference/functions.py): a small table and, per family, expressions written with
pyspark.sql.functions as users write them. `row` cases are selected over the table ordered by
`i`; `agg` cases aggregate the whole table."""

from datetime import date, datetime
from decimal import Decimal

SCHEMA = "g string, i int, l long, d double, s string, t timestamp, dt date, arr array<int>, js string, n int"
ROWS = [
    ("a", 1, 10, 1.5, "Hello World", datetime(2024, 3, 5, 10, 11, 12), date(2024, 1, 31), [3, 1, 2], '{"a": 1, "b": "x"}', 7),
    ("a", 2, -20, -2.25, "foo-123-bar", datetime(2024, 12, 31, 23, 59, 59), date(2024, 2, 29), [5, 5], '{"a": 2, "c": [1, 2]}', None),
    ("b", 3, 30, 0.0, "  spaced  ", datetime(2023, 1, 1, 0, 0, 0), date(2023, 12, 25), [], "not json", 3),
    ("b", 4, 40, 1e6, "a,b,,c", datetime(2024, 7, 4, 12, 30, 0), date(2024, 7, 4), None, '{"a": null}', None),
]

CASES = [
    # aggregate
    ("aggregate", "agg", "F.count('n')"), ("aggregate", "agg", "F.count('*')"),
    ("aggregate", "agg", "F.countDistinct('g')"), ("aggregate", "agg", "F.count_distinct('g', 'n')"),
    ("aggregate", "agg", "F.approx_count_distinct('s')"), ("aggregate", "agg", "F.sum('l')"),
    ("aggregate", "agg", "F.avg('d')"), ("aggregate", "agg", "F.mean('l')"), ("aggregate", "agg", "F.min('s')"),
    ("aggregate", "agg", "F.max('t')"), ("aggregate", "agg", "F.sort_array(F.collect_list('n'))"),
    ("aggregate", "agg", "F.sort_array(F.collect_set('g'))"), ("aggregate", "agg", "F.stddev('d')"),
    ("aggregate", "agg", "F.stddev_samp('l')"), ("aggregate", "agg", "F.stddev_pop('l')"),
    ("aggregate", "agg", "F.variance('l')"), ("aggregate", "agg", "F.var_samp('i')"), ("aggregate", "agg", "F.var_pop('i')"),
    ("aggregate", "agg", "F.percentile_approx('l', 0.5)"), ("aggregate", "agg", "F.percentile_approx('l', [0.25, 0.75])"),
    ("aggregate", "agg", "F.percentile('l', 0.5)"), ("aggregate", "agg", "F.median('i')"),
    ("aggregate", "agg", "F.percentile('d', [0.1, 0.9])"), ("aggregate", "agg", "F.percentile_approx('i', 0.4, 50)"),
    ("aggregate", "agg", "F.corr('i', 'l')"), ("aggregate", "agg", "F.covar_samp('i', 'l')"),
    ("aggregate", "agg", "F.covar_pop('i', 'l')"), ("aggregate", "agg", "F.count_if(F.col('i') > 1)"),
    ("aggregate", "agg", "F.max_by('s', 'l')"), ("aggregate", "agg", "F.min_by('s', 'l')"),
    ("aggregate", "agg", "F.bool_and(F.col('i') > 0)"), ("aggregate", "agg", "F.bool_or(F.col('i') > 3)"),
    ("aggregate", "agg", "F.sum_distinct(F.col('i') % 2)"), ("aggregate", "agg", "F.first('n', ignorenulls=True)"),
    ("aggregate", "agg", "F.skewness('l')"), ("aggregate", "agg", "F.kurtosis('l')"), ("aggregate", "agg", "F.product('i')"),
    # math
    ("math", "row", "F.abs('l')"), ("math", "row", "F.round('d', 1)"), ("math", "row", "F.round(F.col('d'))"),
    ("math", "row", "F.bround(F.lit(2.5))"), ("math", "row", "F.ceil('d')"), ("math", "row", "F.floor('d')"),
    ("math", "row", "F.sqrt('i')"), ("math", "row", "F.exp('i')"), ("math", "row", "F.log('i')"),
    ("math", "row", "F.log(2.0, 'i')"), ("math", "row", "F.log10('l')"), ("math", "row", "F.pow('i', 2)"),
    ("math", "row", "F.signum('l')"), ("math", "row", "F.pmod('l', F.lit(7))"), ("math", "row", "F.col('l') % 7"),
    ("math", "row", "F.greatest('i', 'n')"), ("math", "row", "F.least('i', 'n')"), ("math", "row", "F.hex('l')"),
    ("math", "row", "F.conv(F.col('i').cast('string'), 10, 2)"), ("math", "row", "F.factorial('i')"),
    ("math", "row", "F.cbrt('l')"), ("math", "row", "F.degrees('d')"), ("math", "row", "F.sin('d')"),
    ("math", "row", "F.atan2('d', 'i')"), ("math", "row", "F.rint('d')"), ("math", "row", "F.log1p('i')"),
    ("math", "row", "F.col('l') / F.col('i')"), ("math", "row", "F.round(F.col('d').cast('decimal(10,3)'), 1)"),
    ("math", "row", "F.round(F.lit(2.675), 2)"), ("math", "row", "F.bround('d', 1)"), ("math", "row", "F.round('d', -1)"),
    ("math", "row", "F.round(F.col('l') + 5, -1)"), ("math", "row", "F.bround(F.col('l') + 5, -1)"),
    ("math", "row", "F.bround(F.col('d').cast('decimal(10,3)'), 1)"), ("math", "row", "F.round(F.col('d').cast('decimal(10,3)'), -2)"),
    ("math", "row", "F.round(F.col('i').cast('tinyint'), -1)"), ("math", "row", "F.round(F.col('s'), 1)"),
    ("math", "row", "F.log2('i')"), ("math", "row", "F.log(F.col('l') - 10)"), ("math", "row", "F.log1p(F.col('l') / 10)"),
    ("math", "row", "F.log(0.5, 'l')"), ("math", "row", "F.ln(F.col('d'))"),
    ("math", "row", "F.conv(F.col('l').cast('string'), 10, 16)"), ("math", "row", "F.conv(F.col('l').cast('string'), 10, -16)"),
    ("math", "row", "F.conv(F.col('s'), 36, 10)"), ("math", "row", "F.conv(F.lit('99999999999999999999'), 10, 16)"),
    # string
    ("string", "row", "F.regexp_extract('s', r'(\\d+)', 1)"), ("string", "row", "F.regexp_replace('s', '[aeiou]', '_')"),
    ("string", "row", "F.col('s').like('%o%')"), ("string", "row", "F.col('s').rlike('^[a-z]')"),
    ("string", "row", "F.split('s', ',')"), ("string", "row", "F.concat_ws('|', 's', 'g')"),
    ("string", "row", "F.format_string('%s-%03d', 'g', 'i')"), ("string", "row", "F.lpad('g', 4, '*')"),
    ("string", "row", "F.rpad('g', 4, '*')"), ("string", "row", "F.substring_index('s', 'o', 1)"),
    ("string", "row", "F.translate('s', 'lo', 'LO')"), ("string", "row", "F.initcap('s')"),
    ("string", "row", "F.upper('s')"), ("string", "row", "F.lower('s')"), ("string", "row", "F.length('s')"),
    ("string", "row", "F.trim('s')"), ("string", "row", "F.ltrim('s')"), ("string", "row", "F.substring('s', 2, 3)"),
    ("string", "row", "F.instr('s', 'o')"), ("string", "row", "F.locate('o', 's')"), ("string", "row", "F.reverse('s')"),
    ("string", "row", "F.repeat('g', 3)"), ("string", "row", "F.concat('g', 's')"), ("string", "row", "F.ascii('s')"),
    ("string", "row", "F.base64('g')"), ("string", "row", "F.levenshtein('s', F.lit('hello'))"), ("string", "row", "F.soundex('s')"),
    ("string", "row", "F.col('s').startswith('foo')"), ("string", "row", "F.col('s').contains('o')"),
    ("string", "row", "F.format_number('d', 2)"), ("string", "row", "F.regexp_extract_all('s', F.lit(r'(\\d)'), 1)"),
    ("string", "row", "F.format_number('l', 0)"), ("string", "row", "F.format_number(F.col('l') * 100000, 1)"),
    ("string", "row", "F.format_number(F.lit(0.125), 2)"), ("string", "row", "F.format_number(F.lit(-0.001), 2)"),
    ("string", "row", "F.format_number(F.col('d').cast('decimal(10,3)'), 1)"), ("string", "row", "F.format_number('d', -1)"),
    ("string", "row", "F.regexp_extract_all('s', F.lit(r'(\\w)(\\w*)'), 2)"), ("string", "row", "F.regexp_extract_all('s', F.lit(r'[a-z]+'), 0)"),
    ("string", "row", "F.regexp_extract_all('s', F.lit(r'([a-z])|(\\d)'), 2)"), ("string", "row", "F.regexp_extract_all('s', F.lit(r'(\\d)'), 2)"),
    # conditional
    ("conditional", "row", "F.when(F.col('i') > 2, 'big').when(F.col('i') > 1, 'mid').otherwise('small')"),
    ("conditional", "row", "F.when(F.col('i') > 2, F.col('l'))"), ("conditional", "row", "F.coalesce('n', 'i')"),
    ("conditional", "row", "F.nullif('i', F.lit(2))"), ("conditional", "row", "F.nvl('n', F.lit(0))"),
    ("conditional", "row", "F.nvl2('n', F.lit('has'), F.lit('none'))"), ("conditional", "row", "F.ifnull('n', 'i')"),
    ("conditional", "row", "F.greatest('l', F.lit(15))"), ("conditional", "row", "F.isnull('n')"),
    # hash
    ("hash", "row", "F.md5('s')"), ("hash", "row", "F.sha1('s')"), ("hash", "row", "F.sha2('s', 256)"),
    ("hash", "row", "F.crc32('s')"), ("hash", "row", "F.hash('s')"), ("hash", "row", "F.hash('i', 's')"),
    ("hash", "row", "F.xxhash64('s')"),
    # date and time
    ("datetime", "row", "F.to_date(F.lit('2024-03-05'))"), ("datetime", "row", "F.to_date(F.lit('05/03/2024'), 'dd/MM/yyyy')"),
    ("datetime", "row", "F.to_timestamp(F.lit('2024-03-05 10:11:12'))"), ("datetime", "row", "F.to_timestamp(F.lit('05.03.2024 10:11'), 'dd.MM.yyyy HH:mm')"),
    ("datetime", "row", "F.from_unixtime('l')"), ("datetime", "row", "F.from_unixtime(F.col('l') * 100000, 'yyyy-MM-dd HH')"),
    ("datetime", "row", "F.unix_timestamp('t')"), ("datetime", "row", "F.unix_timestamp(F.lit('2024-03-05'), 'yyyy-MM-dd')"),
    ("datetime", "row", "F.date_trunc('hour', 't')"), ("datetime", "row", "F.date_trunc('month', 't')"),
    ("datetime", "row", "F.trunc('dt', 'MM')"), ("datetime", "row", "F.date_format('t', 'yyyy-MM-dd HH:mm:ss')"),
    ("datetime", "row", "F.date_format('t', 'EEE, d MMM yyyy h:mm a')"), ("datetime", "row", "F.hour('t')"),
    ("datetime", "row", "F.minute('t')"), ("datetime", "row", "F.second('t')"), ("datetime", "row", "F.year('dt')"),
    ("datetime", "row", "F.month('dt')"), ("datetime", "row", "F.dayofweek('dt')"), ("datetime", "row", "F.dayofmonth('dt')"),
    ("datetime", "row", "F.dayofyear('dt')"), ("datetime", "row", "F.weekofyear('dt')"), ("datetime", "row", "F.date_add('dt', 3)"),
    ("datetime", "row", "F.date_sub('dt', 3)"), ("datetime", "row", "F.datediff('dt', F.lit('2024-01-01'))"),
    ("datetime", "row", "F.add_months('dt', 1)"), ("datetime", "row", "F.months_between('t', 'dt')"),
    ("datetime", "row", "F.last_day('dt')"), ("datetime", "row", "F.next_day('dt', 'Mon')"),
    ("datetime", "row", "F.from_utc_timestamp('t', 'Asia/Tokyo')"), ("datetime", "row", "F.to_utc_timestamp('t', 'America/New_York')"),
    ("datetime", "row", "F.make_date(F.lit(2024), 'i', F.lit(5))"), ("datetime", "row", "F.quarter('dt')"),
    ("datetime", "row", "F.window('t', '1 hour')"), ("datetime", "row", "F.window('t', '10 minutes', startTime='3 minutes')"),
    # collection and JSON
    ("collection", "row", "F.array('i', 'n')"), ("collection", "row", "F.create_map(F.lit('k'), 'i')"),
    ("collection", "row", "F.struct('g', 'i')"), ("collection", "row", "F.size('arr')"),
    ("collection", "row", "F.array_contains('arr', 5)"), ("collection", "row", "F.element_at('arr', 1)"),
    ("collection", "row", "F.element_at(F.create_map(F.lit('k'), 'i'), F.lit('k'))"),
    ("collection", "row", "F.flatten(F.array('arr', F.array(F.lit(9))))"), ("collection", "row", "F.sort_array('arr')"),
    ("collection", "row", "F.sort_array('arr', asc=False)"), ("collection", "row", "F.array_distinct('arr')"),
    ("collection", "row", "F.array_max('arr')"), ("collection", "row", "F.array_join(F.array('g', 's'), '/')"),
    ("collection", "row", "F.col('arr')[0]"), ("collection", "row", "F.slice('arr', 1, 2)"),
    ("collection", "row", "F.array_union('arr', F.array(F.lit(1), F.lit(9)))"),
    ("collection", "row", "F.transform('arr', lambda x: x * 2)"), ("collection", "row", "F.filter('arr', lambda x: x > 1)"),
    ("collection", "row", "F.from_json('js', 'a INT, b STRING')"), ("collection", "row", "F.to_json(F.struct('g', 'i', 'n'))"),
    ("collection", "row", "F.get_json_object('js', '$.a')"), ("collection", "row", "F.schema_of_json(F.lit('{\"a\": [1.5]}'))"),
    ("collection", "row", "F.json_tuple('js', 'a', 'b')"), ("collection", "row", "F.map_keys(F.create_map(F.lit('k'), 'i'))"),
    ("collection", "row", "F.sequence(F.lit(1), 'i')"),
    # window functions
    ("window", "row", "F.rank().over(Window.orderBy('g'))"), ("window", "row", "F.dense_rank().over(Window.orderBy('g'))"),
    ("window", "row", "F.percent_rank().over(Window.orderBy('g'))"), ("window", "row", "F.cume_dist().over(Window.orderBy('g'))"),
    ("window", "row", "F.lead('l', 2).over(Window.orderBy('i'))"), ("window", "row", "F.lag('l').over(Window.orderBy('i'))"),
    ("window", "row", "F.sum('l').over(Window.orderBy('i').rowsBetween(-2, -1))"),
    ("collection", "row", "F.element_at(F.array('i', 'l'), -1)"), ("collection", "row", "F.element_at(F.array('i', 'l'), 2)"),
    ("collection", "row", "F.element_at(F.array('i'), 0)"), ("collection", "row", "F.element_at('arr', -4)"),
    ("collection", "row", "F.element_at(F.create_map(F.lit('k'), 'i'), F.lit('z'))"), ("collection", "row", "F.array('i', 'l')[1]"),
    ("collection", "row", "F.col('arr')[-1]"), ("collection", "row", "F.create_map(F.lit('k'), 'i')['k']"),
    ("collection", "row", "F.flatten(F.array(F.array('i'), F.when(F.col('i') > 2, F.array('l'))))"),
    ("collection", "row", "F.flatten(F.array(F.array('i', 'n'), F.array('l')))"),
]


# The same families through SQL text over the table as the view `fn`: (family, kind, select item).
# `agg` items aggregate the view, `row` items are selected ordered by `i`.
SQL_CASES = [
    # aggregate
    ("aggregate", "agg", "count(n)"), ("aggregate", "agg", "count(*)"), ("aggregate", "agg", "count(DISTINCT g)"),
    ("aggregate", "agg", "approx_count_distinct(s)"), ("aggregate", "agg", "sum(l)"), ("aggregate", "agg", "avg(d)"),
    ("aggregate", "agg", "mean(l)"), ("aggregate", "agg", "first(n)"), ("aggregate", "agg", "first(n, true)"),
    ("aggregate", "agg", "last(n)"), ("aggregate", "agg", "last(n, true)"), ("aggregate", "agg", "first_value(n)"),
    ("aggregate", "agg", "any_value(g)"), ("aggregate", "agg", "sort_array(collect_list(n))"),
    ("aggregate", "agg", "sort_array(collect_set(g))"), ("aggregate", "agg", "sort_array(array_agg(n))"),
    ("aggregate", "agg", "stddev(d)"), ("aggregate", "agg", "std(l)"), ("aggregate", "agg", "stddev_samp(l)"),
    ("aggregate", "agg", "stddev_pop(l)"), ("aggregate", "agg", "variance(l)"), ("aggregate", "agg", "var_samp(i)"),
    ("aggregate", "agg", "var_pop(i)"), ("aggregate", "agg", "median(i)"), ("aggregate", "agg", "corr(i, l)"),
    ("aggregate", "agg", "covar_samp(i, l)"), ("aggregate", "agg", "covar_pop(i, l)"), ("aggregate", "agg", "count_if(i > 1)"),
    ("aggregate", "agg", "max_by(s, l)"), ("aggregate", "agg", "min_by(s, l)"), ("aggregate", "agg", "bool_and(i > 0)"),
    ("aggregate", "agg", "every(i > 0)"), ("aggregate", "agg", "bool_or(i > 3)"), ("aggregate", "agg", "some(i > 3)"),
    ("aggregate", "agg", "sum(DISTINCT i % 2)"), ("aggregate", "agg", "sum(l) / count(n)"),
    # math
    ("math", "row", "round(d, 1)"), ("math", "row", "round(d)"), ("math", "row", "ceil(d)"), ("math", "row", "ceiling(d)"),
    ("math", "row", "sqrt(i)"), ("math", "row", "ln(i)"), ("math", "row", "log(2.0, i)"), ("math", "row", "pow(i, 2)"),
    ("math", "row", "pmod(l, 7)"), ("math", "row", "l % 7"), ("math", "row", "mod(l, 7)"), ("math", "row", "abs(l)"),
    ("math", "row", "signum(l)"), ("math", "row", "l / i"), ("math", "row", "l div 7"), ("math", "row", "greatest(i, n)"),
    # string
    ("string", "row", "regexp_extract(s, '([0-9]+)', 1)"), ("string", "row", "regexp_replace(s, '[aeiou]', '_')"),
    ("string", "row", "s LIKE '%o%'"), ("string", "row", "s RLIKE '^[a-z]'"), ("string", "row", "regexp_like(s, '^[a-z]')"),
    ("string", "row", "concat_ws('|', s, g)"), ("string", "row", "format_string('%s-%03d', g, i)"),
    ("string", "row", "lpad(g, 4, '*')"), ("string", "row", "substring_index(s, 'o', 1)"), ("string", "row", "substr(s, 2, 3)"),
    ("string", "row", "substring(s, 2, 3)"), ("string", "row", "ucase(g)"), ("string", "row", "lcase(s)"),
    ("string", "row", "char_length(s)"), ("string", "row", "locate('o', s)"), ("string", "row", "position('o', s)"),
    ("string", "row", "instr(s, 'o')"), ("string", "row", "startswith(s, 'foo')"), ("string", "row", "endswith(s, 'd')"),
    ("string", "row", "translate(s, 'lo', 'LO')"), ("string", "row", "trim(s)"),
    # conditional
    ("conditional", "row", "CASE WHEN i > 2 THEN 'big' WHEN i > 1 THEN 'mid' ELSE 'small' END"),
    ("conditional", "row", "coalesce(n, i)"), ("conditional", "row", "nullif(i, 2)"), ("conditional", "row", "nvl(n, 0)"),
    ("conditional", "row", "nvl2(n, 'has', 'none')"), ("conditional", "row", "ifnull(n, i)"), ("conditional", "row", "isnull(n)"),
    ("conditional", "row", "isnotnull(n)"), ("conditional", "row", "if(i > 2, 'big', 'small')"),
    # hash
    ("hash", "row", "md5(s)"), ("hash", "row", "sha1(s)"), ("hash", "row", "sha(s)"), ("hash", "row", "sha2(s, 256)"),
    ("hash", "row", "crc32(s)"), ("hash", "row", "xxhash64(s)"), ("hash", "row", "hash(i, s)"),
    ("hash", "row", "hash(d, l, t)"),
    # conversion (cast functions)
    ("conversion", "row", "bigint(d)"), ("conversion", "row", "int(l)"), ("conversion", "row", "string(d)"),
    ("conversion", "row", "date(t)"), ("conversion", "row", "double(i)"), ("conversion", "row", "boolean(i)"),
    ("conversion", "row", "decimal(d)"), ("conversion", "row", "timestamp(dt)"), ("conversion", "row", "tinyint(i)"),
    ("conversion", "row", "smallint(i)"), ("conversion", "row", "float(d)"), ("conversion", "row", "int(s)"),
    # date and time
    ("datetime", "row", "year(dt)"), ("datetime", "row", "month(dt)"), ("datetime", "row", "quarter(dt)"),
    ("datetime", "row", "day(dt)"), ("datetime", "row", "dayofmonth(dt)"), ("datetime", "row", "dayofweek(dt)"),
    ("datetime", "row", "dayofyear(dt)"), ("datetime", "row", "weekofyear(dt)"), ("datetime", "row", "hour(t)"),
    ("datetime", "row", "minute(t)"), ("datetime", "row", "second(t)"), ("datetime", "row", "date_format(t, 'yyyy-MM-dd HH:mm')"),
    ("datetime", "row", "to_date('05/03/2024', 'dd/MM/yyyy')"), ("datetime", "row", "to_date('2024-03-05')"),
    ("datetime", "row", "to_timestamp('05.03.2024 10:11', 'dd.MM.yyyy HH:mm')"), ("datetime", "row", "from_unixtime(l)"),
    ("datetime", "row", "from_unixtime(l * 100000, 'yyyy-MM-dd HH')"), ("datetime", "row", "unix_timestamp(t)"),
    ("datetime", "row", "unix_timestamp('2024-03-05', 'yyyy-MM-dd')"), ("datetime", "row", "datediff(dt, '2024-01-01')"),
    ("datetime", "row", "date_add(dt, 3)"), ("datetime", "row", "date_sub(dt, 3)"), ("datetime", "row", "add_months(dt, 1)"),
    ("datetime", "row", "last_day(dt)"), ("datetime", "row", "next_day(dt, 'Mon')"), ("datetime", "row", "date_trunc('hour', t)"),
    ("datetime", "row", "trunc(dt, 'MM')"), ("datetime", "row", "timestamp_seconds(l)"), ("datetime", "row", "make_date(2024, i, 5)"),
    ("datetime", "row", "window(t, '1 hour')"),
    # collection and JSON
    ("collection", "row", "get_json_object(js, '$.c[1]')"), ("collection", "row", "get_json_object(js, '$.c')"),
    ("collection", "row", "get_json_object(js, '$[\\'b\\']')"),
    ("collection", "row", "schema_of_json('{\"b\": 1, \"a\": [1, 2.5], \"c\": null, \"f\": [{\"x\": 1}, {\"y\": \"s\"}]}')"),
    ("aggregate", "agg", "percentile(l, array(0.25, 0.75))"), ("aggregate", "agg", "percentile(d, 0.3)"),
    ("datetime", "row", "months_between(t, dt, false)"), ("datetime", "row", "months_between(dt, t)"),
    ("collection", "row", "size(arr)"), ("collection", "row", "cardinality(arr)"), ("collection", "row", "sort_array(arr)"),
    ("collection", "row", "sort_array(arr, false)"), ("collection", "row", "array_contains(arr, 5)"),
    ("collection", "row", "array(i, n)"), ("collection", "row", "map('k', i)"), ("collection", "row", "struct(g, i)"),
    ("collection", "row", "named_struct('a', i)"), ("collection", "row", "array_distinct(arr)"),
    ("collection", "row", "from_json(js, 'a INT, b STRING')"), ("collection", "row", "to_json(struct(g, i, n))"),
    ("collection", "row", "transform(arr, x -> x * 2)"), ("collection", "row", "filter(arr, x -> x > 1)"),
    # window functions
    ("window", "row", "sum(l) OVER (PARTITION BY g ORDER BY i)"), ("window", "row", "first(n) OVER (PARTITION BY g ORDER BY i)"),
    ("window", "row", "last(n, true) OVER (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"),
    ("window", "row", "row_number() OVER (PARTITION BY g ORDER BY i DESC)"), ("window", "row", "lag(l, 1, 0) OVER (ORDER BY i)"),
    ("window", "row", "count_if(i > 1) OVER (PARTITION BY g)"), ("window", "row", "collect_list(n) OVER (ORDER BY i)"),
    ("window", "row", "avg(d) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)"),
    ("window", "row", "percentile(d, 0.5) OVER (PARTITION BY g)"),
    ("window", "row", "percentile(l, 0.25) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)"),
    ("window", "row", "percentile_approx(l, 0.5) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)"),
    ("aggregate", "agg", "count(DISTINCT g, n)"), ("aggregate", "agg", "percentile_approx(l, array(0.25, 0.75))"),
    ("aggregate", "agg", "percentile_approx(d, 0.5, 100)"),
    ("math", "row", "-l div 7"), ("math", "row", "l div 7 + 1"), ("math", "row", "l div 0"), ("math", "row", "d div 0.5"), ("math", "row", "cast(d AS decimal(10,3)) div 0.5"),
    ("math", "row", "round(2.675, 2)"), ("math", "row", "bround(2.5)"), ("math", "row", "round(d, 1)"), ("math", "row", "bround(l, -1)"),
    ("math", "row", "log10(l)"), ("math", "row", "log(2, l)"), ("math", "row", "log2(i)"), ("math", "row", "log1p(l)"),
    ("math", "row", "conv('ff', 16, 10)"), ("math", "row", "conv(l, 10, -2)"),
    ("string", "row", "format_number(d, 2)"), ("string", "row", "format_number(l, 3)"),
    ("string", "row", "regexp_extract_all(s, '(\\\\d)', 1)"), ("string", "row", "regexp_extract_all(s, '[a-z]+')"),
    ("string", "row", "'it\\'s'"), ("string", "row", "concat('a\\tb', s)"), ("string", "row", "regexp_replace(s, '\\\\d', '#')"),
    ("collection", "row", "array(i, l)[1]"), ("collection", "row", "arr[i]"),
    ("collection", "row", "map('k', i)['k']"), ("collection", "row", "element_at(array(i, l), -1)"),
    ("collection", "row", "element_at(map('k', i), 'k')"), ("collection", "row", "element_at(arr, 5)"),
    ("collection", "row", "flatten(array(arr, array(9)))"), ("collection", "row", "flatten(array(array(i), null))"),
    ("aggregate", "agg", "skewness(d)"), ("aggregate", "agg", "kurtosis(i)"), ("aggregate", "agg", "product(l)"),
    ("aggregate", "agg", "skewness(n)"), ("aggregate", "agg", "product(n * 0.5)"), ("aggregate", "agg", "kurtosis(DISTINCT i % 2)"),
    ("window", "row", "skewness(l) OVER (PARTITION BY g)"), ("window", "row", "product(i) OVER (ORDER BY i)"),
    ("window", "row", "lead(l, 2) OVER (ORDER BY i)"), ("window", "row", "sum(l) OVER (ORDER BY i ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING)"),
    ("window", "row", "rank() OVER (ORDER BY g) + 1"), ("window", "row", "ntile(2) OVER (ORDER BY i)"),
    ("window", "row", "avg(l) OVER (ORDER BY i RANGE BETWEEN 1 PRECEDING AND 2 FOLLOWING)"),
    ("string", "row", "substr(s, 2)"), ("string", "row", "substring(s, 2, 3)"), ("string", "row", "trim(BOTH 'a' FROM g)"),
    ("string", "row", "trim(LEADING 'H' FROM s)"), ("string", "row", "upper(substr(s, 1, 3))"),
    ("window", "row", "dense_rank() OVER (ORDER BY g)"), ("window", "row", "percent_rank() OVER (ORDER BY g)"),
    ("window", "row", "cume_dist() OVER (ORDER BY g)"), ("window", "row", "lag(l) OVER (ORDER BY i)"),
    ("aggregate", "agg", "count(*) FILTER (WHERE i > 1)"), ("aggregate", "agg", "sum(l) FILTER (WHERE g = 'a')"),
    ("aggregate", "agg", "count(DISTINCT i, n) FILTER (WHERE i > 1)"),
    # an unknown function
    ("unknown", "row", "no_such_function(i)"),
]


def sql_query(kind, item):
    """The query a SQL case runs over the view `fn`."""
    return f"SELECT {item} FROM fn" if kind == "agg" else f"SELECT {item} FROM fn ORDER BY i"


def plain(v):
    """A value as JSON keeps it: dates as ISO text, decimals as text, NaN as "NaN", rows as
    dicts, map entries sorted by key."""
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, float) and v != v:
        return "NaN"
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in sorted(v.items())}
    if hasattr(v, "asDict"):
        return {k: plain(x) for k, x in v.asDict().items()}
    return v
