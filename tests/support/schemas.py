"""The schemas of earlier versions, kept in tests/fixtures/schemas, as parsed schemas."""

from __future__ import annotations

import fastavro
import fastavro.schema

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "schemas"


def old_schema(version: str, name: str = "Article") -> dict:
    return fastavro.schema.load_schema(str(FIXTURES / version / f"feedlake.{name}.avsc"))
