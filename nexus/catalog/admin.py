"""The admin site's catalog pages: categories, products with variants and images, reviews, the stock ledger.

Every write goes through the catalog services, after the API's own input schemas, so the admin obeys exactly the
rules of the API: slugs, cycles, stock ledger, cache invalidation.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from markupsafe import Markup, escape
from marshmallow import ValidationError
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, ListWidget

from nexus.admin.security import StaffModelView, current_staff, flash_error
from nexus.catalog.models import SIZES, Category, Product, ProductStatus, Review, StockMovement
from nexus.catalog.schemas.categories import CategoryCreateSchema, CategoryUpdateSchema
from nexus.catalog.schemas.products import (
    ProductCreateSchema,
    ProductUpdateSchema,
    VariantCreateSchema,
    VariantUpdateSchema,
)
from nexus.catalog.services import categories, images, products, reviews, variants
from nexus.common.errors import NexusError
from nexus.common.media import media_url
from nexus.extensions import db

_SERVICE_ERRORS = (NexusError, ValidationError)


def _upload(field) -> FileStorage | None:
    data = field.data
    return data if isinstance(data, FileStorage) and data.filename else None


def _text(value: str | None) -> str:
    return (value or "").strip()


def _optional_id(value: Any) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def category_choices(*, exclude: int | None = None) -> list[tuple[str, str]]:
    """Every category as a select option labelled with its path, tree order."""
    rows = db.session.scalars(db.select(Category).options(selectinload(Category.parent))).all()
    options = sorted(((category_path(c), c.id) for c in rows if c.id != exclude), key=lambda pair: pair[0].lower())
    return [("", "—"), *((str(category_id), path) for path, category_id in options)]


def _category_slug(category_id: int | None) -> str | None:
    category = db.session.get(Category, category_id) if category_id else None
    return category.slug if category else None


def category_path(category: Category) -> str:
    """`Men › Shirts`: the category's place in the tree."""
    names, seen = [], set()
    while category is not None and category.id not in seen:
        seen.add(category.id)
        names.append(category.name)
        category = category.parent
    return " › ".join(reversed(names))


# -- categories -----------------------------------------------------------------------------------------


class CategoryForm(FlaskForm):
    name = StringField("Name")
    slug = StringField("Slug", description="Made from the name when empty.")
    description = TextAreaField("Description")
    parent_id = SelectField("Parent", coerce=_optional_id, validate_choice=False)
    is_active = BooleanField("Active", default=True)
    upload = FileField("Image", description="JPEG, PNG, WebP or GIF; replaces the current image.")


class CategoryView(StaffModelView):
    """The category tree: each row shows its path; create, edit and delete follow the API's rules."""

    column_list = ("name", "slug", "parent", "is_active", "image")
    column_labels = {"name": "Category (path)"}
    column_searchable_list = ("name", "slug")
    column_filters = ("is_active",)
    column_default_sort = "name"
    column_formatters = {
        "name": lambda _v, _c, model, _n: category_path(model),
        "parent": lambda _v, _c, model, _n: model.parent.name if model.parent else "",
        "image": lambda _v, _c, model, _n: (
            Markup(f'<img src="{escape(media_url(model.image))}" height="32">') if model.image else ""
        ),
    }
    form = CategoryForm

    def get_query(self):
        return super().get_query().options(selectinload(Category.parent))

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.parent_id.choices = category_choices()
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.parent_id.choices = category_choices(exclude=obj.id if obj else None)
        return form

    def _values(self, form) -> dict[str, Any]:
        return {
            "name": _text(form.name.data),
            **({"slug": _text(form.slug.data)} if _text(form.slug.data) else {}),
            "description": form.description.data or "",
            "parent": _category_slug(form.parent_id.data),
            "is_active": bool(form.is_active.data),
        }

    def create_model(self, form):
        try:
            category = categories.create_category(**CategoryCreateSchema().load(self._values(form)))
            if _upload(form.upload):
                category = categories.set_category_image(slug=category.slug, upload=_upload(form.upload))
        except _SERVICE_ERRORS as exc:
            flash_error(exc)
            return False
        return category

    def update_model(self, form, model) -> bool:
        try:
            category = categories.update_category(
                slug=model.slug, changes=CategoryUpdateSchema().load(self._values(form))
            )
            if _upload(form.upload):
                categories.set_category_image(slug=category.slug, upload=_upload(form.upload))
        except _SERVICE_ERRORS as exc:
            flash_error(exc)
            return False
        return True

    def delete_model(self, model) -> bool:
        return self.through_service(lambda: categories.delete_category(slug=model.slug))


# -- products -------------------------------------------------------------------------------------------


class VariantRow(Form):
    id = HiddenField()
    size = SelectField("Size", choices=[("", "—"), *((size, size) for size in SIZES)], validate_choice=False)
    sku = StringField("SKU")
    price = StringField("Price")
    stock = StringField("Stock")
    is_active = BooleanField("Active", default=True)
    remove = BooleanField("Delete")


def variants_table(field, **_kwargs) -> Markup:
    """The variants as one table row each (an existing variant's size and SKU are fixed)."""
    head = "".join(f"<th>{escape(label)}</th>" for label in ("Size", "SKU", "Price", "Stock", "Active", "Delete"))
    rows = []
    for entry in field:
        row = entry.form
        fixed = {"readonly": True} if row.id.data else {}
        cells = [
            row.size(class_="form-control form-control-sm", **({"disabled": True} if row.id.data else {})),
            row.sku(class_="form-control form-control-sm", **fixed),
            row.price(class_="form-control form-control-sm", inputmode="decimal"),
            row.stock(class_="form-control form-control-sm", inputmode="numeric"),
            row.is_active(),
            row.remove() if row.id.data else "",
        ]
        tds = "".join(f"<td>{cell}</td>" for cell in cells)
        rows.append(f"<tr>{row.id()}{tds}</tr>")
    return Markup(
        f'<table class="table table-sm" id="{field.id}"><thead><tr>{head}</tr></thead>{"".join(rows)}</table>'
    )


class ProductForm(FlaskForm):
    name = StringField("Name")
    slug = StringField("Slug", description="Made from the name when empty.")
    category_id = SelectField("Category", coerce=_optional_id, validate_choice=False)
    status = SelectField("Status", choices=[(status.value, status.value) for status in ProductStatus], default="draft")
    description = TextAreaField("Description")
    meta_title = StringField("Meta title")
    meta_description = StringField("Meta description")
    low_stock_threshold = StringField("Low-stock threshold", description="Empty: the shop's default.")
    variants = FieldList(FormField(VariantRow), widget=variants_table, min_entries=3)
    remove_images = SelectMultipleField(
        "Delete images", coerce=int, choices=[], widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    upload = FileField("New image", description="JPEG, PNG, WebP or GIF (checked by decoding it).")
    upload_alt_text = StringField("New image's alt text")
    upload_is_main = BooleanField("Make the new image the main image")


def _number(value: str | None) -> int | str | None:
    text = _text(value)
    return int(text) if text.lstrip("-").isdigit() else (text or None)


class ProductView(StaffModelView):
    """Products with their variants and images; saving goes through the catalog services, variant by variant."""

    column_list = ("name", "category", "status", "min_price", "stock_total", "in_stock", "updated_at")
    column_labels = {"min_price": "Price from", "stock_total": "Stock", "in_stock": "In stock"}
    column_searchable_list = ("name", "slug")
    column_filters = ("status", "in_stock", "min_price", "category.name")
    column_sortable_list = ("name", "status", "min_price", "in_stock", "updated_at")
    column_default_sort = ("updated_at", True)
    column_formatters = {
        "category": lambda _v, _c, model, _n: model.category.name,
        "stock_total": lambda _v, _c, model, _n: sum(variant.stock for variant in model.variants),
    }
    form = ProductForm

    def get_query(self):
        return super().get_query().options(selectinload(Product.variants))

    def create_form(self, obj=None):
        form = super().create_form(obj)
        form.category_id.choices = category_choices()
        form.remove_images.choices = []
        return form

    def edit_form(self, obj=None):
        form = super().edit_form(obj)
        form.category_id.choices = category_choices()
        form.remove_images.choices = [(image.id, image.alt_text or image.image) for image in obj.images] if obj else []
        if request.method == "GET":
            form.variants.append_entry()  # room for a new size
        return form

    def _fields(self, form) -> dict[str, Any]:
        values = {
            "name": _text(form.name.data),
            "category": _category_slug(form.category_id.data) or "",
            "status": form.status.data,
            "description": form.description.data or "",
            "meta_title": _text(form.meta_title.data),
            "meta_description": _text(form.meta_description.data),
            "low_stock_threshold": _number(form.low_stock_threshold.data),
        }
        if _text(form.slug.data):
            values["slug"] = _text(form.slug.data)
        return values

    @staticmethod
    def _new_variant(row) -> dict[str, Any]:
        return {
            "size": row.size.data or "",
            "sku": _text(row.sku.data),
            "price": _text(row.price.data),
            "stock": _number(row.stock.data) or 0,
            "is_active": bool(row.is_active.data),
        }

    def create_model(self, form):
        rows = [entry.form for entry in form.variants if _text(entry.form.sku.data)]
        try:
            data = ProductCreateSchema().load({**self._fields(form), "variants": [self._new_variant(r) for r in rows]})
            product = products.create_product(data=data, by_id=current_staff().id)
            self._add_image(form, product.slug)
        except _SERVICE_ERRORS as exc:
            flash_error(exc)
            return False
        return product

    def update_model(self, form, model) -> bool:
        current = {variant.id: variant for variant in model.variants}
        try:
            # Every input is checked before the first write, so a typo in one row changes nothing.
            changes = ProductUpdateSchema().load(self._fields(form))
            plan = self._variant_plan(form, current)
            slug = products.update_product(slug=model.slug, changes=changes).slug
            by_id = current_staff().id
            for action, variant_id, data in plan:
                if action == "delete":
                    variants.delete_variant(slug=slug, variant_id=variant_id)
                elif action == "update":
                    variants.update_variant(slug=slug, variant_id=variant_id, changes=data, by_id=by_id)
                else:
                    variants.create_variant(slug=slug, data=data, by_id=by_id)
            for image_id in form.remove_images.data or []:
                images.delete_product_image(slug=slug, image_id=image_id)
            self._add_image(form, slug)
        except _SERVICE_ERRORS as exc:
            flash_error(exc)
            return False
        return True

    def _variant_plan(self, form, current: dict) -> list[tuple[str, int | None, dict]]:
        plan = []
        for index, entry in enumerate(form.variants):
            row = entry.form
            variant = current.get(_number(row.id.data)) if _text(row.id.data) else None
            try:
                if variant is not None and row.remove.data:
                    plan.append(("delete", variant.id, {}))
                elif variant is not None:
                    given = {"price": _text(row.price.data), "stock": _number(row.stock.data)}
                    data = VariantUpdateSchema().load({**given, "is_active": bool(row.is_active.data)})
                    changed = {key: value for key, value in data.items() if getattr(variant, key) != value}
                    if changed:
                        plan.append(("update", variant.id, changed))
                elif _text(row.sku.data):
                    plan.append(("create", None, VariantCreateSchema().load(self._new_variant(row))))
            except ValidationError as exc:
                raise ValidationError({"variants": {index: exc.messages}}) from exc
        return plan

    @staticmethod
    def _add_image(form, slug: str) -> None:
        upload = _upload(form.upload)
        if upload:
            alt_text = _text(form.upload_alt_text.data)[:255]
            images.add_product_image(
                slug=slug, upload=upload, alt_text=alt_text, is_main=bool(form.upload_is_main.data)
            )

    def delete_model(self, model) -> bool:
        return self.through_service(lambda: products.delete_product(slug=model.slug))


# -- reviews and the stock ledger -----------------------------------------------------------------------


class ReviewView(StaffModelView):
    """Reviews, for moderation: read and delete (the product's rating follows)."""

    can_create = False
    can_edit = False
    can_view_details = True
    column_list = ("product.name", "user.email", "rating", "title", "verified_purchase", "created_at")
    column_labels = {"product.name": "Product", "user.email": "Author"}
    column_filters = ("rating", "verified_purchase")
    column_searchable_list = ("title", "comment")
    column_default_sort = ("created_at", True)

    def delete_model(self, model) -> bool:
        return self.through_service(
            lambda: reviews.delete_review(
                product_pk=model.product.slug, review_id=model.id, user_id=current_staff().id, is_staff=True
            )
        )


class StockMovementView(StaffModelView):
    """The stock ledger, read-only: stock changes only through orders and the variants' stock."""

    can_create = False
    can_edit = False
    can_delete = False
    column_list = ("created_at", "variant.sku", "change", "stock_after", "reason", "order_id", "by.email")
    column_labels = {"variant.sku": "SKU", "order_id": "Order", "by.email": "By"}
    column_filters = ("reason", "created_at", "variant.sku")
    column_default_sort = ("id", True)


def admin_views() -> list:
    """The catalog's admin views."""
    return [
        CategoryView(Category, db, name="Categories", endpoint="category", category="Catalog"),
        ProductView(Product, db, name="Products", endpoint="product", category="Catalog"),
        ReviewView(Review, db, name="Reviews", endpoint="review", category="Catalog"),
        StockMovementView(StockMovement, db, name="Stock movements", endpoint="stockmovement", category="Catalog"),
    ]
