"""The application's JSON: orjson's speed, the standard library's output (sorted keys, Flask's defaults)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from flask.json.provider import DefaultJSONProvider


def test_documents_are_the_ones_the_standard_provider_makes(app):
    document = {
        "b": [1, 2.5, None, True],
        "a": {"z": "é ✓", "m": Decimal("19.90")},
        "errors": {0: {"sku": ["taken"]}, 1: {}},  # nested validation errors have integer keys
        "when": datetime(2026, 11, 26, 16, 20, tzinfo=UTC),
        "big": 2**70,  # beyond 64 bits: orjson refuses, the standard library writes it
    }
    standard = DefaultJSONProvider(app)
    assert json.loads(app.json.dumps(document)) == json.loads(standard.dumps(document))
    assert app.json.dumps({"b": 1, "a": 2}) == '{"a":2,"b":1}'  # sorted and compact
    assert json.loads(app.json.dumps({"when": document["when"]}))["when"] == "Thu, 26 Nov 2026 16:20:00 GMT"
    assert json.loads(app.json.dumps({"m": Decimal("19.90")}))["m"] == "19.90"


def test_responses_are_compact_with_a_final_newline(client):
    response = client.get("/healthz")
    assert response.get_data(as_text=True) == '{"status":"ok"}\n'
    assert response.mimetype == "application/json"
