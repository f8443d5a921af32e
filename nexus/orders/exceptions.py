"""Orders and payments errors, each with its HTTP status."""

from nexus.common.errors import Conflict, NexusError, NotFound, ValidationFailed


class OrderNotFound(NotFound):
    message = "Order not found."


class PaymentNotFound(NotFound):
    message = "Payment not found."


class EmptyCart(ValidationFailed):
    message = "Your cart is empty."


class ItemsUnavailable(Conflict):
    message = "Some items in your cart are no longer available."


class InvalidTransition(Conflict):
    message = "This status change is not allowed."


class OrderNotPayable(Conflict):
    message = "This order cannot be paid."


class PaymentInProgress(Conflict):
    message = "A payment for this order is already in progress."


class PaymentNotConfirmable(Conflict):
    message = "Only a pending bank transfer or cash-on-delivery payment can be confirmed."


class InvalidSignature(NexusError):
    status_code = 400
    message = "Invalid webhook signature."
