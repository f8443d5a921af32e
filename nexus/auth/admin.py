"""The admin site's user pages: find, edit and set a password, through the auth services."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_admin import expose
from flask_admin.model.template import EndpointLinkRowAction
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired

from nexus.admin.security import StaffModelView, flash_error
from nexus.auth import services
from nexus.auth.models import User
from nexus.auth.schemas import UserUpdateSchema
from nexus.common.errors import NexusError
from nexus.extensions import db


class UserForm(FlaskForm):
    first_name = StringField("First name")
    last_name = StringField("Last name")
    phone_number = StringField("Phone number")
    is_active = BooleanField("Active")
    is_staff = BooleanField("Staff")


class PasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired()])
    new_password2 = PasswordField("New password again", validators=[DataRequired()])


class UserView(StaffModelView):
    """Users: searchable and filterable; no password hash is ever shown, a new password is set through a form."""

    can_create = False
    can_delete = False
    can_view_details = True
    column_list = ("email", "first_name", "last_name", "is_active", "is_staff", "is_verified", "created_at")
    column_details_list = (*column_list, "phone_number", "last_login")
    column_searchable_list = ("email", "first_name", "last_name")
    column_filters = ("is_staff", "is_verified", "is_active")
    column_labels = {"created_at": "Joined"}
    column_default_sort = ("id", True)
    column_extra_row_actions = [EndpointLinkRowAction("fa fa-key", ".password_view", title="Set password")]
    form = UserForm

    def update_model(self, form, model) -> bool:
        names = {field: form[field].data or "" for field in ("first_name", "last_name", "phone_number")}
        flags = {"is_active": form.is_active.data, "is_staff": form.is_staff.data}
        return self.through_service(
            lambda: services.update_user_by_staff(user_id=model.id, changes={**UserUpdateSchema().load(names), **flags})
        )

    def create_model(self, form):  # users sign up through the API; staff never create accounts here
        return False

    def delete_model(self, model) -> bool:  # accounts are deactivated, never deleted, here
        return False

    @expose("/password/", methods=("GET", "POST"))
    def password_view(self):
        user = db.session.get(User, request.args.get("id", type=int) or 0)
        if user is None:
            flash("No such user.", "error")
            return redirect(url_for(".index_view"))
        form = PasswordForm()
        if request.method == "POST" and form.validate():
            try:
                services.set_password_by_staff(
                    user_id=user.id, new_password=form.new_password.data, new_password2=form.new_password2.data
                )
            except NexusError as exc:
                flash_error(exc)
            else:
                flash(f"The password of {user.email} was changed.", "success")
                return redirect(url_for(".index_view"))
        return self.render(
            "admin/form.html", form=form, title=f"Set the password of {user.email}", cancel_url=url_for(".index_view")
        )


def admin_views() -> list:
    """The auth domain's admin views."""
    return [UserView(User, db, name="Users", endpoint="user")]
