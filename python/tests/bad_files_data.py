"""Bad input files, written byte for byte the same for the tests and for the script that ran
real Spark on them (python/spark_reference/bad_files.py)."""

import os

import pyarrow as pa
import pyarrow.parquet as pq

# text with bytes that are not UTF-8: a Latin-1 é, a stray 0xff 0xfe, a truncated € sequence
CSV = b"id,name\n1,caf\xe9\n2,ok\n3,\xff\xfe x\n4,\xe2\x82\n5,plain\n"
JSON = b'{"id": 1, "s": "caf\xe9"}\n{"id": 2, "s": "ok"}\n{"id": 3, "s": "a\xffb"}\n'
TEXT = b"first line\nsecond \xe9 line\n\xff\n"

PARQUET_SCHEMA = "id long, v string"


def good_parquet(path, start):
    table = pa.table({"id": pa.array(range(start, start + 100), pa.int64()), "v": [f"v{i}" for i in range(start, start + 100)]})
    pq.write_table(table, path, compression="none")


def write_all(root):
    """Writes every case under `root`; returns their paths by name."""
    paths = {}

    def write(name, content):
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
        return path

    paths["csv"] = write("latin.csv", CSV)
    paths["json"] = write("latin.json", JSON)
    paths["text"] = write("latin.txt", TEXT)
    empty = os.path.join(root, "empty")
    write("empty/a.csv", b"")
    write("empty/b.csv", b"id,name\n7,x\n")
    paths["empty_dir"] = empty

    # each Parquet case: a directory with a good file (ids 0..99) and a bad one
    for kind in ["corrupt", "truncated", "not_parquet", "empty"]:
        d = os.path.join(root, f"parquet_{kind}")
        os.makedirs(d, exist_ok=True)
        good_parquet(os.path.join(d, "part-0.parquet"), 0)
        bad = os.path.join(d, "part-1.parquet")
        good_parquet(bad, 100)
        raw = open(bad, "rb").read()
        if kind == "corrupt":
            # the column chunks overwritten, the footer intact
            raw = raw[:4] + bytes((i * 37) % 256 for i in range(600)) + raw[604:]
        elif kind == "truncated":
            raw = raw[: len(raw) // 2]
        elif kind == "not_parquet":
            raw = b"this is not a parquet file at all\n" * 10
        elif kind == "empty":
            raw = b""
        with open(bad, "wb") as f:
            f.write(raw)
        paths[f"parquet_{kind}"] = d
    return paths
