"""The admin site's door: staff-only session login and logout, CSRF on every write, and the base views."""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_admin import AdminIndexView, BaseView, expose
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla.filters import FilterConverter
from flask_admin.model import typefmt
from flask_admin.model.filters import convert
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from limits import parse
from marshmallow import ValidationError
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from nexus.auth import passwords
from nexus.auth.models import User
from nexus.auth.services import get_user_by_email
from nexus.common.errors import NexusError
from nexus.extensions import db, limiter

csrf = CSRFProtect()

SESSION_KEY = "admin_user"
REFUSED = "Wrong email or password, or the account may not use the admin site."


def current_staff() -> User | None:
    """The active staff user of this admin session, or None (a changed password or role ends the session)."""
    if "admin_staff" not in g:
        g.admin_staff = None
        stamp = session.get(SESSION_KEY)
        if isinstance(stamp, list) and len(stamp) == 2:
            user = db.session.get(User, stamp[0])
            if user is not None and user.is_active and user.is_staff and user.token_version == stamp[1]:
                g.admin_staff = user
    return g.admin_staff


def flash_error(exc: NexusError | ValidationError) -> None:
    """A domain or schema error as a flash message: its message, then each field's problems."""
    if isinstance(exc, ValidationError):
        message, errors = "Validation failed", exc.messages
    else:
        message, errors = exc.message, exc.errors
    flash(message, "error")
    for field, problems in _flatten(errors or {}):
        flash(f"{field}: {problems}", "error")


def _flatten(errors: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(errors, dict):
        return [pair for key, value in errors.items() for pair in _flatten(value, f"{prefix}{key}.")]
    if isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        return [(prefix.rstrip("."), " ".join(errors))]
    return [(prefix.rstrip("."), str(errors))]


class StaffOnly:
    """Every page and action: staff only (anonymous → login page, others → 403), and a CSRF token on each POST."""

    def is_accessible(self) -> bool:
        return current_staff() is not None

    def inaccessible_callback(self, name, **kwargs):
        if SESSION_KEY not in session:
            return redirect(url_for("admin_login.index", next=request.full_path))
        # A session that no longer belongs to active staff (or never did) is refused once, then forgotten.
        session.pop(SESSION_KEY, None)
        abort(403)

    def render(self, template, **kwargs):
        return super().render(template, admin_staff=current_staff(), **kwargs)

    def _handle_view(self, name, **kwargs):
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return super()._handle_view(name, **kwargs)


class NexusFilterConverter(FilterConverter):
    """Filters for the shop's own column types (timezone-aware datetimes, money)."""

    @convert("utcdatetime")
    def conv_utc_datetime(self, column, name, **kwargs):
        return self.conv_datetime(column, name, **kwargs)

    @convert("money")
    def conv_money(self, column, name, **kwargs):
        return self.conv_float(column, name, **kwargs)


class StaffModelView(StaffOnly, ModelView):
    """A model view whose forms carry the session's CSRF token; domain errors become flash messages."""

    form_base_class = FlaskForm
    filter_converter = NexusFilterConverter()
    column_type_formatters = {
        **typefmt.BASE_FORMATTERS,
        enum.Enum: lambda _view, value, _name: value.value,
        datetime: lambda _view, value, _name: value.strftime("%Y-%m-%d %H:%M"),
    }
    column_type_formatters_detail = column_type_formatters
    page_size = 20
    can_set_page_size = True

    def _get_list_filter_args(self):
        # Flask-Admin's own loop, except that a value a filter cannot read (an unknown status) is a message, not a 500.
        if not self._filters:
            return None
        filters = []
        for arg, value in request.args.items():
            if not arg.startswith("flt") or "_" not in arg:
                continue
            position, key = arg[3:].split("_", 1)
            if key not in self._filter_args:
                continue
            index, flt = self._filter_args[key]
            try:
                valid = flt.validate(value)
            except (KeyError, ValueError, TypeError, ArithmeticError):
                valid = False
            if valid:
                filters.append((position, (index, str(flt.name), value)))
            else:
                flash(f"Ignored the filter {flt.name!r}: {value!r} is not a valid value.", "error")
        return [item for _position, item in sorted(filters, key=lambda pair: pair[0])]

    @staticmethod
    def through_service(call: Callable[[], Any]) -> bool:
        """Run a view's service call: True when it succeeded, False after flashing its domain or schema error."""
        try:
            call()
        except (NexusError, ValidationError) as exc:
            flash_error(exc)
            return False
        return True

    def handle_view_exception(self, exc: Exception) -> bool:
        if isinstance(exc, NexusError | ValidationError):
            flash_error(exc)
            return True
        return super().handle_view_exception(exc)


class StaffView(StaffOnly, BaseView):
    """A custom admin page for staff."""


class StaffIndexView(StaffOnly, AdminIndexView):
    """The admin home page, for staff."""


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class LoginView(BaseView):
    """/admin/login/: email and password of an active staff user; failed attempts are rate-limited per address."""

    def is_visible(self) -> bool:
        return False

    @expose("/", methods=("GET", "POST"))
    def index(self):
        form = LoginForm()
        if request.method == "POST":
            csrf.protect()
            limit, key = parse(current_app.config["LOGIN_RATE_LIMIT"]), request.remote_addr or "-"
            if limiter.enabled and not limiter.limiter.test(limit, "admin-login", key):
                return self.render("admin/login.html", form=form, refused="Too many attempts; wait a minute."), 429
            user = _staff_with(form.email.data, form.password.data) if form.validate() else None
            if user is None:
                if limiter.enabled:
                    limiter.limiter.hit(limit, "admin-login", key)
                return self.render("admin/login.html", form=form, refused=REFUSED), 200
            session.clear()  # a fresh session: nothing from before the login survives it
            session[SESSION_KEY] = [user.id, user.token_version]
            session.permanent = True  # the signed cookie expires after PERMANENT_SESSION_LIFETIME
            return redirect(_safe_next(request.args.get("next")))
        return self.render("admin/login.html", form=form, refused=None)


class LogoutView(BaseView):
    """/admin/logout/: ends the admin session (a POST with the CSRF token; GET shows the button)."""

    def is_visible(self) -> bool:
        return False

    @expose("/", methods=("GET", "POST"))
    def index(self):
        if request.method == "POST":
            csrf.protect()
            session.clear()
            flash("You are logged out.", "info")
            return redirect(url_for("admin_login.index"))
        return self.render("admin/logout.html", form=FlaskForm())


def _staff_with(email: str, password: str) -> User | None:
    user = get_user_by_email(email=email)
    if user is None:
        passwords.dummy_check(password)  # the same time spent whether the address exists or not
        return None
    if not passwords.check_password(user.password_hash, password) or not (user.is_active and user.is_staff):
        return None
    return user


def _safe_next(target: str | None) -> str:
    # Only a path inside the admin site: never an open redirect to another host.
    if target and target.startswith("/admin/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.index")
