"""Payment providers: one small interface, and the built-in `test` provider that behaves like a test-mode gateway."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from flask import current_app

from nexus.common.errors import ServiceUnavailable


class PaymentProviderError(ServiceUnavailable):
    message = "The payment provider is unavailable; try again shortly."


@dataclass(frozen=True)
class ChargeResult:
    succeeded: bool
    transaction_id: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class RefundResult:
    refund_id: str


class PaymentProvider(Protocol):
    name: str

    def charge(
        self, *, payment_id: int, amount: Decimal, currency: str, method: str, card_token: str | None
    ) -> ChargeResult:
        """Take the money. `payment_id` is the gateway's idempotency key: charging twice charges once.

        A declined payment is a result (succeeded False, with a reason); an unreachable gateway raises
        PaymentProviderError so the task retries."""

    def refund(self, *, payment_id: int, transaction_id: str | None, amount: Decimal, currency: str) -> RefundResult:
        """Give the money of a completed payment back; raises PaymentProviderError when it cannot."""


class TestProvider:
    """Test mode: `tok_visa` (or no token) succeeds, `tok_chargeDeclined` is declined, any other token is refused."""

    __test__ = False  # not a pytest class, whatever its name
    name = "test"
    SUCCEEDS = "tok_visa"
    DECLINED = "tok_chargeDeclined"

    def charge(
        self, *, payment_id: int, amount: Decimal, currency: str, method: str, card_token: str | None
    ) -> ChargeResult:
        if card_token in (None, "", self.SUCCEEDS):
            return ChargeResult(succeeded=True, transaction_id=f"test_ch_{payment_id}_{secrets.token_hex(6)}")
        if card_token == self.DECLINED:
            return ChargeResult(succeeded=False, failure_reason="Your card was declined.")
        return ChargeResult(succeeded=False, failure_reason="The card token is invalid or has expired.")

    def refund(self, *, payment_id: int, transaction_id: str | None, amount: Decimal, currency: str) -> RefundResult:
        return RefundResult(refund_id=f"test_re_{payment_id}_{secrets.token_hex(6)}")


PROVIDERS: dict[str, type] = {"test": TestProvider}


def get_provider(name: str | None = None) -> PaymentProvider:
    """The provider by name (a payment keeps the name it was made with), by default PAYMENT_PROVIDER."""
    name = name or current_app.config["PAYMENT_PROVIDER"]
    try:
        return PROVIDERS[name]()
    except KeyError:
        raise PaymentProviderError(f"Unknown payment provider {name!r}.") from None
