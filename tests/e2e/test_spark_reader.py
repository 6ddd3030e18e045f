"""Spark, the engine a data lake usually has, reads the lake: the Avro file format class with
partition discovery, and a Hive external table repaired with MSCK on the embedded metastore."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter

import pytest

import schemas
from pipeline.cli import main
from tests.support.lake import records
from tests.support.small_files import small_files_lake

pytestmark = [pytest.mark.e2e, pytest.mark.long]
pyspark = pytest.importorskip("pyspark")


def java_version() -> int | None:
    """The major version of the Java Spark would start (JAVA_HOME's, else PATH's), or None."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    said = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    found = re.search(r'version "(\d+)', said.stderr)
    return int(found.group(1)) if found else None


if (JAVA := java_version()) is None or JAVA < 17:
    pytest.skip(
        f"Spark needs Java 17 or newer and found {f'Java {JAVA}' if JAVA else 'no java'}: "
        "install it (Debian: apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
        allow_module_level=True,
    )
AVRO = "org.apache.spark.sql.avro.AvroFileFormat"  # pyspark ships no spark-avro short name


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from pyspark.sql import SparkSession

    home = tmp_path_factory.mktemp("spark")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("feedlake-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(home / "warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={home / 'derby'}")
        .config("spark.sql.shuffle.partitions", "1")
        .enableHiveSupport()
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    assert main(["run", "--lake", str(root), "--quiet"]) == 0
    return root


def test_spark_reads_the_partitioned_lake(spark, lake):
    articles = spark.read.format(AVRO).load(str(lake / "articles"))
    assert articles.count() == 10
    assert {"dt", "region", "topic", "location", "title"} <= set(articles.columns)
    rows = articles.groupBy("region").count().collect()
    assert {row["region"]: row["count"] for row in rows} == {"asia": 7, "europe": 2, "africa": 1}
    mismatched = articles.filter(articles.region != articles.location.region).count()
    assert mismatched == 0


def test_a_hive_external_table_finds_the_partitions(spark, lake, tmp_path):
    schema_file = tmp_path / "article.avsc"
    schema_file.write_text(json.dumps(schemas.load("Article")))
    spark.sql("DROP TABLE IF EXISTS feedlake_articles")
    spark.sql(
        "CREATE EXTERNAL TABLE feedlake_articles "
        "PARTITIONED BY (dt STRING, region STRING, topic STRING) "
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.avro.AvroSerDe' "
        "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat' "
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat' "
        f"LOCATION 'file://{lake / 'articles'}' "
        f"TBLPROPERTIES ('avro.schema.url'='file://{schema_file}')"
    )
    spark.sql("MSCK REPAIR TABLE feedlake_articles")
    partitions = spark.sql("SHOW PARTITIONS feedlake_articles").collect()
    assert len(partitions) == 7
    counts = spark.sql(
        "SELECT topic, count(*) AS n FROM feedlake_articles GROUP BY topic ORDER BY n DESC"
    ).collect()
    assert counts[0]["topic"] == "politics" and sum(r["n"] for r in counts) == 10


def test_spark_reads_a_compacted_lake(spark, tmp_path):
    """Four runs' small files merged by ``feedlake compact``: Spark finds every record in
    the partition it was written to."""
    lake = small_files_lake(tmp_path)
    assert main(["compact", "--lake", str(lake), "--quiet"]) == 0
    assert {
        len(list(folder.glob("*.avro"))) for folder in (lake / "articles").rglob("topic=*")
    } == {1}
    for kind in ("articles", "duplicates", "rejects"):
        expected = Counter(r["_partition"].split("/", 1)[1] for r in records(lake, kind))
        table = spark.read.format(AVRO).load(str(lake / kind))
        keys = [key for key in ("dt", "region", "topic") if key in table.columns]
        found = Counter(
            {
                "/".join(f"{key}={row[key]}" for key in keys): row["count"]
                for row in table.groupBy(*keys).count().collect()
            }
        )
        assert found == expected and sum(found.values()) > 0, kind
