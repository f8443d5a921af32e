"""The staff admin site at /admin/: Flask-Admin over the domains' services, behind a staff-only session login."""

from __future__ import annotations

from flask import Flask, g, request
from flask_admin import Admin
from flask_admin.theme import Bootstrap4Theme

from nexus.admin.dashboard import DashboardView
from nexus.admin.security import LoginView, LogoutView, csrf

# Flask-Admin's pages use inline scripts and event handlers; everything else comes from this site only.
ADMIN_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


def init_admin(app: Flask) -> Admin:
    """Mount the admin site on the app: its CSRF protection (admin pages only), login, dashboard and every view."""
    from nexus.auth.admin import admin_views as auth_views
    from nexus.catalog.admin import admin_views as catalog_views
    from nexus.orders.admin import admin_views as orders_views

    csrf.init_app(app)
    app.after_request(_admin_headers)
    app.teardown_request(_forget_request_state)
    admin = Admin(
        app,
        name="Nexus admin",
        url="/admin",
        theme=Bootstrap4Theme(base_template="admin/nexus_base.html", fluid=True),
        index_view=DashboardView(name="Dashboard", url="/admin", endpoint="admin"),
    )
    admin.add_view(LoginView(name="Log in", endpoint="admin_login", url="/admin/login"))
    admin.add_view(LogoutView(name="Log out", endpoint="admin_logout", url="/admin/logout"))
    for view in (*auth_views(), *catalog_views(), *orders_views()):
        admin.add_view(view)
    return admin


def _admin_headers(response):
    if request.path.startswith("/admin/"):
        response.headers["Content-Security-Policy"] = ADMIN_CSP
        if not request.path.startswith("/admin/static/"):
            response.headers["Cache-Control"] = "no-store"  # staff pages hold customers' data
    return response


def _forget_request_state(_exc) -> None:
    # What the admin keeps in `g` belongs to one request, even where an app context outlives it (tests).
    g.pop("admin_staff", None)
    g.pop("csrf_token", None)
