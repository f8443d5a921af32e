"""The orders domain's business rules, one module per concern, all re-exported here."""

from nexus.orders.services.base import allowed_transitions, lock_order  # noqa: F401
from nexus.orders.services.checkout import place_order, shipping_cost_for  # noqa: F401
from nexus.orders.services.notifications import alert_low_stock, notify_order_status  # noqa: F401
from nexus.orders.services.payments import (  # noqa: F401
    confirm_payment,
    create_payment,
    process_payment,
)
from nexus.orders.services.queries import (  # noqa: F401
    get_order,
    get_payment,
    has_delivered_purchase,
    list_order_items,
    list_orders,
    list_payments,
    product_was_ordered,
)
from nexus.orders.services.webhook import handle_payment_webhook, verify_signature, webhook_signature  # noqa: F401
from nexus.orders.services.workflow import (  # noqa: F401
    cancel_expired_orders,
    cancel_order,
    change_order_status,
    expire_order,
)
