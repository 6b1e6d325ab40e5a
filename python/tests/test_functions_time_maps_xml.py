"""Functions added for issue 23, through the real client against a real `spate serve`: the TIME
type, calendar arithmetic on timestamps, maps under spark.sql.mapKeyDedupPolicy, the map
lambdas and array_sort with a comparator, XPath, AES, bitmaps, number formats and grouping_id.
Expected values are computed here (Python's datetime/zoneinfo, XPath read by hand, AES inverted)
or are Spark's documented ones; error classes are Spark's."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pyspark.errors import PySparkException
from pyspark.sql import functions as F


def local(aware):
    """How the client gives back an instant: naive, in this process's time zone."""
    return aware.astimezone().replace(tzinfo=None)


def one(df):
    rows = df.collect()
    assert len(rows) == 1
    return rows[0][0]


# --- TIME -----------------------------------------------------------------------------------


def test_time_values_round_trip_and_print_as_spark(spark):
    df = spark.createDataFrame([("13:08:15",), ("06:30:45.887",), ("00:00:00.000001",)], ["s"])
    t = df.select(F.col("s").cast("time").alias("t"))
    assert t.dtypes == [("t", "time(6)")]
    got = [r.t for r in t.collect()]
    assert got == [dt.time(13, 8, 15), dt.time(6, 30, 45, 887000), dt.time(0, 0, 0, 1)]
    # show() and CAST(... AS STRING) drop trailing zeros of the fraction
    texts = [r[0] for r in t.select(F.col("t").cast("string")).collect()]
    assert texts == ["13:08:15", "06:30:45.887", "00:00:00.000001"]
    fields = t.select(F.hour("t"), F.minute("t"), F.second("t")).collect()
    assert [tuple(r) for r in fields] == [(13, 8, 15), (6, 30, 45), (0, 0, 0)]


def test_time_functions_compute_what_python_computes(spark):
    micros = 52_200_500_000
    row = (
        spark.range(1)
        .select(
            F.time_from_micros(F.lit(micros)).alias("a"),
            F.time_from_millis(F.lit(micros // 1000)).alias("b"),
            F.time_from_seconds(F.lit(52200.5)).alias("c"),
            F.make_time(F.lit(23), F.lit(59), F.lit(Decimal("59.999999"))).alias("d"),
            F.time_to_micros(F.lit(dt.time(1, 2, 3, 4))).alias("e"),
            F.time_to_seconds(F.lit(dt.time(1, 2, 3, 500000))).alias("f"),
            F.time_diff(F.lit("MINUTE"), F.lit(dt.time(10, 0)), F.lit(dt.time(9, 0, 30))).alias("g"),
            F.time_trunc(F.lit("SECOND"), F.lit(dt.time(10, 1, 2, 999999))).alias("h"),
            F.to_time(F.lit("10.30.00"), F.lit("HH.mm.ss")).alias("i"),
        )
        .collect()[0]
    )
    assert row.a == row.b == row.c == dt.time(14, 30, 0, 500000)
    assert row.d == dt.time(23, 59, 59, 999999)
    assert row.e == ((1 * 60 + 2) * 60 + 3) * 1_000_000 + 4
    assert row.f == Decimal("3723.500000")
    assert row.g == -59  # whole minutes from 10:00 back to 09:00:30, toward zero
    assert row.h == dt.time(10, 1, 2)
    assert row.i == dt.time(10, 30)


def test_time_errors_are_sparks(spark):
    with pytest.raises(PySparkException) as e:
        spark.range(1).select(F.to_time(F.lit("25:61"))).collect()
    assert e.value.getCondition() == "CANNOT_PARSE_TIME"
    assert one(spark.range(1).select(F.try_to_time(F.lit("25:61")))) is None
    with pytest.raises(PySparkException) as e:
        spark.range(1).select(F.time_trunc(F.lit("DAY"), F.lit(dt.time(1, 0)))).collect()
    assert e.value.getCondition() == "INVALID_PARAMETER_VALUE.TIME_UNIT"
    with pytest.raises(PySparkException) as e:
        spark.range(1).select(F.make_time(F.lit(24), F.lit(0), F.lit(0))).collect()
    assert e.value.getCondition() == "DATETIME_FIELD_OUT_OF_BOUNDS"


def test_make_timestamp_of_a_date_and_a_time(spark):
    spark.conf.set("spark.sql.session.timeZone", "America/Los_Angeles")
    try:
        row = (
            spark.range(1)
            .select(
                F.make_timestamp(date=F.lit(dt.date(2024, 3, 10)), time=F.lit(dt.time(12, 0)), timezone=F.lit("CET")).alias("ltz"),
                F.make_timestamp_ntz(date=F.lit(dt.date(2024, 3, 10)), time=F.lit(dt.time(12, 0))).alias("ntz"),
                F.try_make_timestamp(F.lit(2024), F.lit(2), F.lit(30), F.lit(0), F.lit(0), F.lit(0)).alias("bad"),
            )
            .collect()[0]
        )
        assert row.ltz == local(dt.datetime(2024, 3, 10, 12, 0, tzinfo=ZoneInfo("CET")))
        assert row.ntz == dt.datetime(2024, 3, 10, 12, 0)
        assert row.bad is None
    finally:
        spark.conf.unset("spark.sql.session.timeZone")


# --- timestampadd / timestampdiff / convert_timezone -----------------------------------------


def test_timestamp_arithmetic_keeps_the_wall_clock_across_a_dst_change(spark):
    zone = "America/New_York"
    spark.conf.set("spark.sql.session.timeZone", zone)
    try:
        tz = ZoneInfo(zone)
        start = dt.datetime(2024, 3, 9, 12, 0, tzinfo=tz)  # the day before clocks move forward
        df = spark.createDataFrame([(start,)], ["ts"])
        jan31 = dt.datetime(2024, 1, 31, 8, 0, tzinfo=tz)
        row = df.select(
            F.timestamp_add("DAY", F.lit(1), "ts").alias("day"),
            F.timestamp_add("HOUR", F.lit(24), "ts").alias("hours"),
            F.timestamp_add("MONTH", F.lit(1), F.lit(jan31)).alias("month"),
            F.timestamp_diff("HOUR", "ts", F.timestamp_add("DAY", F.lit(1), "ts")).alias("diff"),
        ).collect()[0]
        # a day later is noon again (23 hours of real time); 24 hours later is 13:00
        assert row.day == local(dt.datetime(2024, 3, 10, 12, 0, tzinfo=tz))
        assert row.hours == local(dt.datetime(2024, 3, 10, 13, 0, tzinfo=tz))
        assert row.month == local(dt.datetime(2024, 2, 29, 8, 0, tzinfo=tz))
        # the difference counts local date-times, as Spark's ChronoUnit.between: 24 hours
        assert row.diff == 24
    finally:
        spark.conf.unset("spark.sql.session.timeZone")


def test_convert_timezone_moves_a_local_time_between_zones(spark):
    local = dt.datetime(2015, 4, 8, 15, 0)
    got = one(spark.range(1).select(F.convert_timezone(F.lit("Asia/Hong_Kong"), F.lit("Europe/Paris"), F.lit(local))))
    expected = local.replace(tzinfo=ZoneInfo("Asia/Hong_Kong")).astimezone(ZoneInfo("Europe/Paris"))
    assert got == expected.replace(tzinfo=None)


# --- maps --------------------------------------------------------------------------------------


def test_a_duplicate_map_key_follows_the_dedup_policy(spark):
    assert spark.conf.get("spark.sql.mapKeyDedupPolicy") == "EXCEPTION"
    with pytest.raises(PySparkException) as e:
        spark.sql("SELECT map(1, 'a', 1, 'b') AS m").collect()
    assert e.value.getCondition() == "DUPLICATED_MAP_KEY"
    spark.conf.set("spark.sql.mapKeyDedupPolicy", "LAST_WIN")
    try:
        # the key stays where it first came, with the value it was given last
        row = spark.sql("SELECT map(1, 'a', 2, 'x', 1, 'b') AS m").collect()[0]
        assert list(row.m.items()) == [(1, "b"), (2, "x")]
        concat = spark.sql("SELECT map_concat(map(1, 'a', 2, 'b'), map(2, 'c', 3, NULL)) AS m").collect()[0]
        assert list(concat.m.items()) == [(1, "a"), (2, "c"), (3, None)]
    finally:
        spark.conf.unset("spark.sql.mapKeyDedupPolicy")
    with pytest.raises(PySparkException) as e:
        spark.conf.set("spark.sql.mapKeyDedupPolicy", "FIRST_WIN")
    assert "INVALID_CONF_VALUE" in str(e.value)


def test_map_lambdas(spark):
    df = spark.createDataFrame([({"a": 1, "b": 2}, {"b": 10, "c": 20})], ["m1", "m2"])
    row = df.select(
        F.transform_values("m1", lambda k, v: v * 100 + F.length(k)).alias("tv"),
        F.transform_keys("m1", lambda k, v: F.concat(k, v.cast("string"))).alias("tk"),
        F.map_filter("m1", lambda k, v: v > 1).alias("mf"),
        F.map_zip_with("m1", "m2", lambda k, a, b: F.coalesce(a, F.lit(0)) + F.coalesce(b, F.lit(0))).alias("zw"),
    ).collect()[0]
    assert row.tv == {"a": 101, "b": 201}
    assert row.tk == {"a1": 1, "b2": 2}
    assert row.mf == {"b": 2}
    assert list(row.zw.items()) == [("a", 1), ("b", 12), ("c", 20)]
    with pytest.raises(PySparkException) as e:
        df.select(F.transform_keys("m1", lambda k, v: F.lit("same"))).collect()
    assert e.value.getCondition() == "DUPLICATED_MAP_KEY"


def test_array_sort_with_a_comparator(spark):
    df = spark.createDataFrame([([3, 1, 2, 5, 4],), ([],), (None,)], ["a"])
    got = [r[0] for r in df.select(F.array_sort("a", lambda x, y: y - x)).collect()]
    assert got == [[5, 4, 3, 2, 1], [], None]


# --- XPath, AES, bitmaps, number formats --------------------------------------------------------


def test_xpath_functions(spark):
    doc = "<r><n id='1'>3</n><n id='2'>4.5</n><t>x</t></r>"
    row = spark.createDataFrame([(doc,)], ["x"]).select(
        F.xpath("x", F.lit("r/n/@id")).alias("ids"),
        F.xpath_double("x", F.lit("sum(r/n)")).alias("sum"),
        F.xpath_int("x", F.lit("r/t")).alias("nan_int"),
        F.xpath_string("x", F.lit("r/n[2]")).alias("second"),
        F.xpath_boolean("x", F.lit("r/missing")).alias("none"),
        F.xpath("x", F.lit("r/n")).alias("elements"),
    ).collect()[0]
    assert row.ids == ["1", "2"]
    assert row.sum == 7.5
    assert row.nan_int == 0  # not a number: Java's (int) NaN
    assert row.second == "4.5"
    assert row.none is False
    assert row.elements == [None, None]  # an element has no node value


def test_aes_round_trips_and_reads_what_spark_wrote(spark):
    df = spark.createDataFrame([("Spark SQL", "abcdefghijklmnop12345678ABCDEFGH")], ["input", "key"])
    for mode in ["GCM", "CBC", "ECB"]:
        back = df.select(F.aes_decrypt(F.aes_encrypt("input", "key", F.lit(mode)), "key", F.lit(mode)).cast("string"))
        assert one(back) == "Spark SQL"
    # Spark's documented ciphertext: CBC, its IV first
    sealed = spark.createDataFrame([("AAAAAAAAAAAAAAAAAAAAAPSd4mWyMZ5mhvjiAPQJnfg=",)], ["c"])
    opened = sealed.select(F.aes_decrypt(F.unbase64("c"), F.lit("abcdefghijklmnop12345678ABCDEFGH"), F.lit("CBC")).cast("string"))
    assert one(opened) == "Spark"
    with pytest.raises(PySparkException) as e:
        df.select(F.aes_encrypt("input", F.lit("short"))).collect()
    assert e.value.getCondition() == "INVALID_PARAMETER_VALUE.AES_KEY_LENGTH"
    wrong = F.try_aes_decrypt(F.unbase64(F.lit("AAAAAAAAAAAAAAAAAAAAAPSd4mWyMZ5mhvjiAPQJnfg=")), F.lit("0" * 32), F.lit("CBC"))
    assert one(spark.range(1).select(wrong)) is None


def test_bitmaps(spark):
    df = spark.createDataFrame([(v,) for v in [1, 2, 3, 9, 32768, 32769]], ["v"])
    row = df.select(
        F.bitmap_count(F.bitmap_construct_agg(F.bitmap_bit_position("v"))).alias("n"),
        F.bitmap_construct_agg(F.bitmap_bit_position("v")).alias("bits"),
    ).collect()[0]
    # positions are (v - 1) % 32768: 0, 1, 2, 8, 32767, 0
    assert row.n == 5
    assert len(row.bits) == 4096
    assert (row.bits[0], row.bits[1], row.bits[4095]) == (0b111, 0b1, 0b1000_0000)
    bitmaps = spark.createDataFrame([(bytes([0b1100]),), (bytes([0b0110, 0xFF]),)], ["b"])
    row = bitmaps.select(F.bitmap_or_agg("b").alias("o"), F.bitmap_and_agg("b").alias("a")).collect()[0]
    assert (row.o[0], row.o[1]) == (0b1110, 0xFF)
    assert (row.a[0], row.a[1]) == (0b0100, 0)


def test_number_formats(spark):
    row = spark.range(1).select(
        F.to_number(F.lit("$1,234.50"), F.lit("$9,999.99")).alias("n"),
        F.try_to_number(F.lit("12"), F.lit("000")).alias("short"),
        F.to_char(F.lit(Decimal("-12454.8")), F.lit("99G999D9S")).alias("c"),
        F.to_char(F.lit(Decimal("7")), F.lit("000")).alias("padded"),
    ).collect()[0]
    assert row.n == Decimal("1234.50")
    assert row.short is None  # a run starting with 0 wants every digit
    assert row.c == "12,454.8-"
    assert row.padded == "007"
    with pytest.raises(PySparkException) as e:
        spark.range(1).select(F.to_number(F.lit("abc"), F.lit("999"))).collect()
    assert e.value.getCondition() == "INVALID_FORMAT.MISMATCH_INPUT"


def test_grouping_id_over_every_grouping_column(spark):
    df = spark.createDataFrame([("a", "x", 1), ("a", "y", 2), ("b", "x", 3)], ["p", "q", "v"])
    rows = df.cube("p", "q").agg(F.grouping_id().alias("gid"), F.sum("v").alias("s")).collect()
    got = {(r.p, r.q, r.gid, r.s) for r in rows}
    # bit 1 for p rolled up, bit 0 for q
    assert (None, None, 3, 6) in got
    assert ("a", None, 1, 3) in got
    assert (None, "x", 2, 4) in got
    assert ("b", "x", 0, 3) in got
    assert len(got) == 3 + 2 + 2 + 1  # the groups, the p roll-ups, the q roll-ups, the total


def test_csv_text_in_a_column(spark):
    df = spark.createDataFrame([("7;x y;",), (None,), ("oops;b;c",)], ["v"])
    rows = df.select(F.from_csv("v", "a INT, b STRING, c DOUBLE", {"sep": ";"}).alias("r")).collect()
    assert rows[0].r.asDict() == {"a": 7, "b": "x y", "c": None}  # an empty field is null
    assert rows[1].r is None
    assert rows[2].r.asDict() == {"a": None, "b": "b", "c": None}  # what does not fit is null
    ddl = one(spark.range(1).select(F.schema_of_csv(F.lit("3000000000;2.5;false;z"), {"sep": ";"})))
    assert ddl == "STRUCT<_c0: BIGINT, _c1: DOUBLE, _c2: BOOLEAN, _c3: STRING>"
    text = spark.createDataFrame([(1, "a,b", None)], "i int, s string, n int").select(
        F.to_csv(F.struct("i", "s", "n"))
    )
    assert one(text) == '1,"a,b",'


def test_try_avg_is_null_where_the_decimal_average_overflows(spark):
    df = spark.createDataFrame([(Decimal("9" * 38),), (Decimal(1),)], "n DECIMAL(38, 0)")
    assert one(df.select(F.try_avg("n"))) is None
    small = spark.createDataFrame([(Decimal("1.5"),), (Decimal("2.5"),), (None,)], "n DECIMAL(10, 1)")
    got = small.select(F.try_avg("n").alias("a"))
    assert got.dtypes == [("a", "decimal(14,5)")]
    assert one(got) == Decimal("2.00000")


def test_randstr_draws_from_the_partitions_generator(spark):
    import re

    one_partition = spark.range(0, 4, 1, 1).select(F.randstr(F.lit(5), F.lit(7)).alias("s"))
    first = [r.s for r in one_partition.collect()]
    assert first == [r.s for r in one_partition.collect()]  # the seed fixes the values
    assert all(re.fullmatch("[0-9a-zA-Z]{5}", s) for s in first)
    # partition 1 draws with seed 7 + 1: its first row is partition 0's first with seed 8
    two = [r.s for r in spark.range(0, 4, 1, 2).select(F.randstr(F.lit(5), F.lit(7)).alias("s")).collect()]
    seed8 = one(spark.range(0, 1, 1, 1).select(F.randstr(F.lit(5), F.lit(8))))
    assert two[0] == first[0] and two[2] == seed8


def test_with_field_and_drop_fields(spark):
    from pyspark.sql import Row

    df = spark.createDataFrame([Row(a=Row(b=1, c=Row(d=2, e=3))), Row(a=None)], "a struct<b:int,c:struct<d:int,e:int>>")
    out = df.select(
        F.col("a").withField("b", F.lit(10)).alias("replaced"),
        F.col("a").withField("c.f", F.lit(4)).alias("nested"),
        F.col("a").dropFields("c.d", "B").alias("dropped"),
    ).collect()
    assert out[0].replaced.asDict(recursive=True) == {"b": 10, "c": {"d": 2, "e": 3}}
    assert out[0].nested.asDict(recursive=True) == {"b": 1, "c": {"d": 2, "e": 3, "f": 4}}
    assert out[0].dropped.asDict(recursive=True) == {"c": {"e": 3}}  # names match case-insensitively
    assert (out[1].replaced, out[1].nested, out[1].dropped) == (None, None, None)
    # a replaced struct column's new field can be selected (DataFusion's leaf pushdown read the old one)
    assert one(df.limit(1).withColumn("a", F.col("a").withField("z", F.lit(5))).select("a.z")) == 5
    with pytest.raises(PySparkException) as e:
        df.select(F.col("a").dropFields("b", "c")).collect()
    assert e.value.getCondition() == "DATATYPE_MISMATCH.CANNOT_DROP_ALL_FIELDS"


def test_unpivot_gives_spark_row_order_and_common_type(spark):
    df = spark.createDataFrame([(1, 11, 1.5), (2, None, 2.5)], ["id", "a", "b"])
    rows = [tuple(r) for r in df.unpivot("id", ["a", "b"], "var", "val").collect()]
    # row by row, then value column by value column; ints widened to double
    assert rows == [(1, "a", 11.0), (1, "b", 1.5), (2, "a", None), (2, "b", 2.5)]
    melted = df.melt("id", None, "k", "v")  # no values: every column but the ids
    assert melted.columns == ["id", "k", "v"] and melted.count() == 4
    with pytest.raises(PySparkException) as e:
        df.unpivot(["id", "a", "b"], [], "var", "val").collect()
    assert e.value.getCondition() == "UNPIVOT_REQUIRES_VALUE_COLUMNS"
    with pytest.raises(PySparkException) as e:
        spark.createDataFrame([(1, "x", [1])], ["id", "s", "arr"]).unpivot("id", ["s", "arr"], "k", "v").collect()
    assert e.value.getCondition() == "UNPIVOT_VALUE_DATA_TYPE_MISMATCH"


def test_csv_null_value_on_read(spark, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("age,name\n100,Hyukjin Kwon\n7,Ana\n")
    rows = spark.read.options(nullValue="Hyukjin Kwon", header=True).csv(str(path)).collect()
    assert [(r.age, r.name) for r in rows] == [("100", None), ("7", "Ana")]


def test_intervals_from_fields(spark):
    row = spark.range(1).select(
        F.make_ym_interval(F.lit(1), F.lit(14)).cast("string").alias("ym"),
        F.try_make_interval(F.lit(0), F.lit(1), F.lit(1), F.lit(2), F.lit(3), F.lit(4), F.lit(5.5)).cast("string").alias("cal"),
        F.try_make_interval(F.lit(0), F.lit(2147483647), F.lit(0), F.lit(0)).isNull().alias("overflow"),
    ).collect()[0]
    assert row.ym == "INTERVAL '2-2' YEAR TO MONTH"  # 1 year 14 months is 2 years 2 months
    assert row.cal == "1 months 9 days 3 hours 4 minutes 5.5 seconds"
    assert row.overflow is False  # 2147483647 months fit in an int
    assert one(spark.range(1).select(F.try_make_interval(F.lit(2147483647)).isNull())) is True
    with pytest.raises(PySparkException) as e:
        spark.range(1).select(F.make_ym_interval(F.lit(2147483647))).collect()
    assert e.value.getCondition() == "ARITHMETIC_OVERFLOW"


def test_window_keys_are_never_null(spark):
    df = spark.createDataFrame(
        [(dt.datetime(2016, 3, 11, 9, 0, 7), 1), (None, 2)], "dt timestamp, v int"
    )
    tumbling = df.groupBy(F.window("dt", "5 seconds")).agg(F.sum("v").alias("s"))
    sessions = df.groupBy(F.session_window("dt", "5 seconds")).agg(F.sum("v").alias("s"))
    for grouped, key in [(tumbling, "window"), (sessions, "session_window")]:
        assert grouped.schema[key].nullable is False  # Spark's declaration
        rows = grouped.collect()
        assert [r.s for r in rows] == [1]  # the row without a time is in no window


def test_avg_of_doubles_adds_in_row_order(spark):
    values = [40.3, 37.8, 44.1]
    in_order = 0.0
    for v in values:  # Spark's Average: one addition per row, in order
        in_order += v
    df = spark.createDataFrame([(v,) for v in values], "w double").coalesce(1)
    assert one(df.agg(F.avg("w"))) == in_order / 3 == 40.73333333333333
    spark.createDataFrame([(v,) for v in values], "w double").createOrReplaceTempView("weights")
    assert one(spark.sql("SELECT avg(w) FROM weights")) == in_order / 3


def test_unwrap_udt_gives_a_vector_as_its_sql_struct(spark):
    from pyspark.ml.linalg import Vectors

    df = spark.createDataFrame([(Vectors.dense(1, 2, 3),), (Vectors.sparse(4, {1: 1.0, 3: 5.5}),)], ["vec"])
    got = df.select(F.unwrap_udt("vec").alias("u")).collect()
    # VectorUDT's SQL form: type 1 dense (values only), 0 sparse (size, indices, values)
    assert [r.u.asDict() for r in got] == [
        {"type": 1, "size": None, "indices": None, "values": [1.0, 2.0, 3.0]},
        {"type": 0, "size": 4, "indices": [1, 3], "values": [1.0, 5.5]},
    ]
    with pytest.raises(PySparkException) as e:
        spark.range(1).select(F.unwrap_udt("id")).collect()
    assert e.value.getCondition() == "DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE"
