"""Product, variant and image routes: the public shop, and staff writes."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from nexus.catalog import services
from nexus.catalog.routes import blp
from nexus.catalog.routes.bodies import json_response, page_response, public_read
from nexus.catalog.routes.viewer import OPTIONAL_AUTH, viewer_is_staff
from nexus.catalog.schemas import (
    ImageSchema,
    ProductCreateSchema,
    ProductImageUploadSchema,
    ProductPatchSchema,
    ProductQueryArgsSchema,
    ProductSchema,
    ProductUpdateSchema,
    VariantCreateSchema,
    VariantQueryArgsSchema,
    VariantSchema,
    VariantUpdateSchema,
)
from nexus.common.pagination import page_schema

_PUBLIC = "The public sees active products (and their active variants); staff see every status."


@blp.route("/products/")
class Products(MethodView):
    @public_read("products")
    @blp.arguments(ProductQueryArgsSchema(), location="query")
    @blp.response(200, page_schema(ProductSchema))
    @blp.documents(401, 404)
    @blp.doc(security=OPTIONAL_AUTH, description=f"{_PUBLIC} Every filter combines; a bad value → 400.")
    def get(self, args):
        """List products, with filters, search and ordering."""
        return page_response(services.read_products(args=args, is_staff=viewer_is_staff()))

    @blp.admin_required()
    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema)
    @blp.doc(description="Slug from the name when absent (a taken slug or SKU → 400); one variant per size.")
    def post(self, data):
        """Create a product, optionally with its variants."""
        return services.create_product(data=data, by_id=current_user.id)


@blp.route("/products/<slug>/")
class ProductBySlug(MethodView):
    @public_read("products")
    @blp.response(200, ProductSchema)
    @blp.documents(401, 404)
    @blp.doc(security=OPTIONAL_AUTH, description=f"{_PUBLIC} A draft or inactive product → 404 for the public.")
    def get(self, slug):
        """A product with its variants and images."""
        return json_response(services.read_product(slug=slug, is_staff=viewer_is_staff()))

    @blp.admin_required()
    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ProductSchema)
    @blp.documents(404)
    def put(self, data, slug):
        """Update a product (name and category required)."""
        return services.update_product(slug=slug, changes=data)

    @blp.admin_required()
    @blp.arguments(ProductPatchSchema)
    @blp.response(200, ProductSchema)
    @blp.documents(404)
    def patch(self, data, slug):
        """Change some of a product's fields."""
        return services.update_product(slug=slug, changes=data)

    @blp.admin_required()
    @blp.response(204)
    @blp.documents(404)
    @blp.doc(description="A product that was ever ordered is set `discontinued` instead, also answered 204.")
    def delete(self, slug):
        """Delete a product."""
        services.delete_product(slug=slug)


@blp.route("/products/<slug>/variants/")
class Variants(MethodView):
    @public_read("products")
    @blp.arguments(VariantQueryArgsSchema(), location="query")
    @blp.response(200, page_schema(VariantSchema))
    @blp.documents(401, 404)
    @blp.doc(security=OPTIONAL_AUTH, description=_PUBLIC)
    def get(self, args, slug):
        """The product's variants, by size."""
        return page_response(services.read_variants(slug=slug, is_staff=viewer_is_staff(), **args))

    @blp.admin_required()
    @blp.arguments(VariantCreateSchema)
    @blp.response(201, VariantSchema)
    @blp.documents(404)
    @blp.doc(description="A size the product already has, or a SKU already used → 400.")
    def post(self, data, slug):
        """Add a variant to a product."""
        return services.create_variant(slug=slug, data=data, by_id=current_user.id)


@blp.route("/products/<slug>/variants/<int:variant_id>/")
class VariantById(MethodView):
    @blp.admin_required()
    @blp.arguments(VariantUpdateSchema)
    @blp.response(200, VariantSchema)
    @blp.documents(404)
    @blp.doc(description="A stock change is recorded in the stock ledger as an adjustment.")
    def patch(self, data, slug, variant_id):
        """Change a variant's price, stock or is_active."""
        return services.update_variant(slug=slug, variant_id=variant_id, changes=data, by_id=current_user.id)

    @blp.admin_required()
    @blp.response(204)
    @blp.documents(404, 409)
    def delete(self, slug, variant_id):
        """Delete a variant."""
        services.delete_variant(slug=slug, variant_id=variant_id)


@blp.route("/products/<slug>/images/")
class Images(MethodView):
    @blp.admin_required()
    @blp.arguments(ProductImageUploadSchema, location="form", content_type="multipart/form-data")
    @blp.response(201, ImageSchema)
    @blp.documents(404, 409, 413)
    @blp.doc(
        description="Decoded to prove it is a JPEG, PNG, WebP or GIF (else 400); more than MAX_IMAGE_PIXELS → 400, "
        "more than MAX_IMAGE_BYTES → 413. The first image, or one sent with `is_main`, is the main image."
    )
    def post(self, data, slug):
        """Upload a product image; its thumbnail is made in the background."""
        return services.add_product_image(slug=slug, upload=data.pop("image"), **data)


@blp.route("/products/<slug>/images/<int:image_id>/")
class ImageById(MethodView):
    @blp.admin_required()
    @blp.response(204)
    @blp.documents(404)
    def delete(self, slug, image_id):
        """Delete a product image and its files."""
        services.delete_product_image(slug=slug, image_id=image_id)
