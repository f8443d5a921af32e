"""The admin home page: variants running low on stock and today's orders."""

from __future__ import annotations

from flask_admin import expose

from nexus.admin.security import StaffIndexView


class DashboardView(StaffIndexView):
    """/admin/: what needs attention today."""

    @expose("/")
    def index(self):
        from nexus.catalog.services.inventory import list_low_stock
        from nexus.orders.admin import todays_orders

        low_stock = list_low_stock(page=1, page_size=20)
        return self.render("admin/dashboard.html", low_stock=low_stock, orders=todays_orders(limit=50))
