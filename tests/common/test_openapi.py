"""The OpenAPI document is valid and complete: every operation documented, secured ones with their errors."""

from openapi_spec_validator import validate

METHODS = ("get", "post", "put", "patch", "delete")


def test_openapi_document_is_valid(client):
    validate(client.get("/openapi.json").json)


def test_every_operation_has_a_summary_and_responses(client):
    spec = client.get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert any(code.startswith("2") for code in operation["responses"]), f"{method.upper()} {path}"
            assert "default" in operation["responses"], f"{method.upper()} {path} documents no error shape"


def test_secured_operations_document_401(client):
    spec = client.get("/openapi.json").json
    secured = [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS and operation.get("security")
    ]
    assert secured, "no operation declares bearer security"
    for path, method, operation in secured:
        # [{}, bearerAuth] is optional authentication (staff see more of the catalog), else required.
        assert operation["security"] in ([{"bearerAuth": []}], [{}, {"bearerAuth": []}])
        assert "401" in operation["responses"], f"{method.upper()} {path} does not document 401"


def test_money_is_documented_as_a_decimal_string(client):
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    money = [
        (name, field, spec)
        for name, schema in schemas.items()
        if name != "PaginationMetadata"  # flask-smorest's own, unused: counts, not money
        for field, spec in schema.get("properties", {}).items()
        if field in ("price", "subtotal", "total", "amount", "unit_price", "line_total")
    ]
    assert money
    for name, field, spec in money:
        assert spec.get("type") == "string", f"{name}.{field} is documented as {spec.get('type')}"


def test_a_body_schema_is_made_once_not_per_request(client, customer_headers, monkeypatch):
    """Given a schema class, webargs would make an instance (a deep copy of its fields) for every request."""
    from nexus.cart.schemas import CartItemCreateSchema

    made = []
    original = CartItemCreateSchema.__init__

    def counted(self, *args, **kwargs):
        made.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(CartItemCreateSchema, "__init__", counted)
    for _ in range(2):
        answer = client.post("/api/store/carts/add_item/", json={"variant_id": 999999}, headers=customer_headers)
        assert answer.status_code == 404  # parsed and validated: the variant is unknown
    invalid = client.post("/api/store/carts/add_item/", json={"quantity": 1}, headers=customer_headers)
    assert invalid.status_code == 400 and "variant_id" in invalid.json["errors"]["json"]
    assert made == []
