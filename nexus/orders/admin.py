"""The admin site's order pages: orders with their workflow buttons, payments to confirm; all through the services."""

from __future__ import annotations

from datetime import datetime, time

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from nexus.admin.security import StaffModelView, current_staff, flash_error
from nexus.auth.models import User
from nexus.common.errors import NexusError
from nexus.common.models import utcnow
from nexus.extensions import db
from nexus.orders.models import Order, OrderStatus, Payment
from nexus.orders.services.base import allowed_transitions
from nexus.orders.services.payments import confirm_payment
from nexus.orders.services.workflow import change_order_status


class OrderView(StaffModelView):
    """Orders: read-only fields; the status moves only by the buttons of the allowed transitions."""

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = True
    details_template = "admin/order_details.html"
    column_list = ("number", "user.email", "status", "payment_status", "total", "created_at")
    column_labels = {"user.email": "Customer", "created_at": "Placed"}
    column_searchable_list = ("number", "user.email")
    column_filters = ("status", "payment_status", "created_at")
    column_default_sort = ("created_at", True)

    def get_one(self, id):
        stmt = (
            select(Order)
            .where(Order.id == int(id))
            .options(joinedload(Order.user), selectinload(Order.items), selectinload(Order.history))
        )
        return db.session.scalars(stmt).one_or_none() if str(id).isdigit() else None

    def transitions(self, order: Order) -> list[OrderStatus]:
        """The statuses staff may move this order to (the buttons on its page)."""
        return allowed_transitions(order, is_staff=True, is_owner=False)

    def emails(self, order: Order) -> dict[int, str]:
        """Who made each change in the order's history."""
        ids = {entry.by_id for entry in order.history if entry.by_id}
        return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all()) if ids else {}

    @expose("/transition/", methods=("POST",))
    def transition_view(self):
        order_id = request.form.get("id", type=int) or 0
        try:
            status = OrderStatus(request.form.get("status", ""))
            change_order_status(order_id=order_id, status=status, by_id=current_staff().id)
        except ValueError:
            flash("Unknown status.", "error")
        except NexusError as exc:
            flash_error(exc)
        else:
            flash(f"The order is now {status.value}.", "success")
        return redirect(url_for(".details_view", id=order_id))


class PaymentView(StaffModelView):
    """Payments, read-only; a pending bank transfer (or cash on delivery) is confirmed with the action."""

    can_create = False
    can_edit = False
    can_delete = False
    column_list = ("id", "order.number", "method", "status", "amount", "currency", "provider", "transaction_id")
    column_labels = {"order.number": "Order"}
    column_filters = ("status", "method", "created_at")
    column_searchable_list = ("transaction_id",)
    column_default_sort = ("id", True)

    @action("confirm", "Confirm bank transfer", "Confirm that the selected payments were received?")
    def action_confirm(self, ids) -> None:
        confirmed = 0
        for payment_id in ids:
            try:
                confirm_payment(payment_id=int(payment_id), by_id=current_staff().id)
            except NexusError as exc:
                flash_error(exc)
            else:
                confirmed += 1
        if confirmed:
            flash(f"{confirmed} payment(s) confirmed.", "success")


def todays_orders(*, limit: int) -> list[Order]:
    """The orders placed since midnight (UTC), newest first."""
    midnight = datetime.combine(utcnow().date(), time.min, tzinfo=utcnow().tzinfo)
    stmt = (
        select(Order)
        .where(Order.created_at >= midnight)
        .options(joinedload(Order.user))
        .order_by(Order.created_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def admin_views() -> list:
    """The orders domain's admin views."""
    return [
        OrderView(Order, db, name="Orders", endpoint="order", category="Sales"),
        PaymentView(Payment, db, name="Payments", endpoint="payment", category="Sales"),
    ]
