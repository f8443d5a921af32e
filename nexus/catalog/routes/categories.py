"""Category routes: the public tree, and staff writes."""

from flask.views import MethodView

from nexus.catalog import services
from nexus.catalog.routes import blp
from nexus.catalog.routes.bodies import json_response, page_response, public_read
from nexus.catalog.routes.viewer import OPTIONAL_AUTH, viewer_is_staff
from nexus.catalog.schemas import (
    CategoryCreateSchema,
    CategoryImageUploadSchema,
    CategoryPatchSchema,
    CategoryQueryArgsSchema,
    CategorySchema,
    CategoryUpdateSchema,
)
from nexus.common.pagination import page_schema

_PUBLIC = "Inactive categories are shown to staff only."


@blp.route("/categories/")
class Categories(MethodView):
    @public_read("categories")
    @blp.arguments(CategoryQueryArgsSchema(), location="query")
    @blp.response(200, page_schema(CategorySchema))
    @blp.documents(401, 404)
    @blp.doc(security=OPTIONAL_AUTH, description=f"By name. An unknown `parent` slug → 400. {_PUBLIC}")
    def get(self, args):
        """List categories: `?parent=<slug>` its children, `?parent=` the top level, `?search=` by name."""
        return page_response(services.read_categories(args=args, is_staff=viewer_is_staff()))

    @blp.admin_required()
    @blp.arguments(CategoryCreateSchema)
    @blp.response(201, CategorySchema)
    @blp.doc(description="The slug is made from the name when absent; a slug already taken → 400.")
    def post(self, data):
        """Create a category."""
        return services.create_category(**data)


@blp.route("/categories/<slug>/")
class CategoryBySlug(MethodView):
    @public_read("categories")
    @blp.response(200, CategorySchema)
    @blp.documents(401, 404)
    @blp.doc(security=OPTIONAL_AUTH, description=_PUBLIC)
    def get(self, slug):
        """A category with its children."""
        return json_response(services.read_category(slug=slug, is_staff=viewer_is_staff()))

    @blp.admin_required()
    @blp.arguments(CategoryUpdateSchema)
    @blp.response(200, CategorySchema)
    @blp.documents(404)
    @blp.doc(description="Moving a category under itself or one of its subcategories → 400.")
    def put(self, data, slug):
        """Update a category (name required)."""
        return services.update_category(slug=slug, changes=data)

    @blp.admin_required()
    @blp.arguments(CategoryPatchSchema)
    @blp.response(200, CategorySchema)
    @blp.documents(404)
    @blp.doc(description="Moving a category under itself or one of its subcategories → 400.")
    def patch(self, data, slug):
        """Change some of a category's fields."""
        return services.update_category(slug=slug, changes=data)

    @blp.admin_required()
    @blp.response(204)
    @blp.documents(404, 409)
    @blp.doc(description="A category that still has products or subcategories → 409.")
    def delete(self, slug):
        """Delete an empty category."""
        services.delete_category(slug=slug)


@blp.route("/categories/<slug>/image/")
class CategoryImage(MethodView):
    @blp.admin_required()
    @blp.arguments(CategoryImageUploadSchema, location="form", content_type="multipart/form-data")
    @blp.response(200, CategorySchema)
    @blp.documents(404, 413)
    @blp.doc(description="Decoded to prove it is a JPEG, PNG, WebP or GIF (else 400); too many pixels → 400.")
    def post(self, data, slug):
        """Upload the category's image (replaces the old one)."""
        return services.set_category_image(slug=slug, upload=data["image"])
