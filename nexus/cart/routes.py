"""HTTP routes of carts, cart items and wishlists: the signed-in user's own, never anyone else's."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from nexus.cart import services
from nexus.cart.schemas import (
    CartItemCreateSchema,
    CartItemQueryArgsSchema,
    CartItemSchema,
    CartItemUpdateSchema,
    CartSchema,
    WishlistEntryCreateSchema,
    WishlistEntrySchema,
    WishlistQueryArgsSchema,
)
from nexus.common.api import Blueprint
from nexus.common.pagination import envelope, page_schema

blp = Blueprint("cart", __name__, url_prefix="/api/store", description="The customer's cart and wishlist")

_ADD_RULES = (
    "The same variant again adds to its line's quantity. Nothing is reserved: stock is taken only by an order. "
    "An unknown `variant_id` → 404. A variant that is inactive, of a product that is not active, or without "
    "stock for the line's new quantity → 409 naming the variant's SKU and the available stock. A line's new "
    "quantity above MAX_LINE_QUANTITY → 400."
)
_OWN_ITEM = "Only the owner's items: any other id (another user's included) → 404."


@blp.route("/carts/")
class Carts(MethodView):
    @blp.login_required()
    @blp.response(200, CartSchema)
    def get(self):
        """The signed-in user's cart, created on first use, at current prices."""
        return services.get_cart(user_id=current_user.id)


@blp.route("/carts/add_item/")
class CartAddItem(MethodView):
    @blp.login_required()
    @blp.arguments(CartItemCreateSchema)
    @blp.response(200, CartSchema)
    @blp.documents(404, 409)
    @blp.doc(description=_ADD_RULES)
    def post(self, data):
        """Add a variant to the cart; answers the whole cart."""
        return services.add_item_to_cart(user_id=current_user.id, **data)


@blp.route("/carts/clear/")
class CartClear(MethodView):
    @blp.login_required()
    @blp.response(200, CartSchema)
    def post(self):
        """Empty the cart; answers the empty cart."""
        return services.clear_cart(user_id=current_user.id)


@blp.route("/cart-items/")
class CartItems(MethodView):
    @blp.login_required()
    @blp.arguments(CartItemQueryArgsSchema, location="query")
    @blp.response(200, page_schema(CartItemSchema))
    @blp.documents(404)
    def get(self, args):
        """The signed-in user's cart items, oldest first."""
        return envelope(services.list_cart_items(user_id=current_user.id, **args))

    @blp.login_required()
    @blp.arguments(CartItemCreateSchema)
    @blp.response(201, CartItemSchema)
    @blp.documents(404, 409)
    @blp.doc(description=_ADD_RULES)
    def post(self, data):
        """Add a variant to the cart; answers its (merged) line."""
        return services.add_item(user_id=current_user.id, **data)


@blp.route("/cart-items/<int:item_id>/")
class CartItemById(MethodView):
    @blp.login_required()
    @blp.response(200, CartItemSchema)
    @blp.documents(404)
    @blp.doc(description=_OWN_ITEM)
    def get(self, item_id):
        """One of the signed-in user's cart items."""
        return services.get_cart_item(user_id=current_user.id, item_id=item_id)

    @blp.login_required()
    @blp.arguments(CartItemUpdateSchema)
    @blp.response(200, CartItemSchema)
    @blp.documents(404, 409)
    @blp.doc(description=f"{_OWN_ITEM} The variant must still be on sale and in stock for the new quantity (409).")
    def put(self, data, item_id):
        """Set a cart item's quantity."""
        return services.set_item_quantity(user_id=current_user.id, item_id=item_id, **data)

    @blp.login_required()
    @blp.arguments(CartItemUpdateSchema)
    @blp.response(200, CartItemSchema)
    @blp.documents(404, 409)
    @blp.doc(description=f"{_OWN_ITEM} The variant must still be on sale and in stock for the new quantity (409).")
    def patch(self, data, item_id):
        """Set a cart item's quantity."""
        return services.set_item_quantity(user_id=current_user.id, item_id=item_id, **data)

    @blp.login_required()
    @blp.response(204)
    @blp.documents(404)
    @blp.doc(description=_OWN_ITEM)
    def delete(self, item_id):
        """Remove an item from the cart."""
        services.remove_item(user_id=current_user.id, item_id=item_id)


@blp.route("/wishlists/")
class Wishlists(MethodView):
    @blp.login_required()
    @blp.arguments(WishlistQueryArgsSchema, location="query")
    @blp.response(200, page_schema(WishlistEntrySchema))
    @blp.documents(404)
    @blp.doc(description="Entries of products no longer sold stay listed, with the product's current status.")
    def get(self, args):
        """The signed-in user's wishlist, newest first."""
        return envelope(services.list_wishlist_items(user_id=current_user.id, **args))

    @blp.login_required()
    @blp.arguments(WishlistEntryCreateSchema)
    @blp.response(201, WishlistEntrySchema)
    @blp.alt_response(200, schema=WishlistEntrySchema, description="Already in the wishlist: the existing entry")
    @blp.documents(404, 409)
    @blp.doc(
        description="`product` is a slug (string) or id (integer). Only active products can be added: a missing, "
        "draft or inactive product → 404 (the public cannot see it), a discontinued one → 409. A product already "
        "in the wishlist → 200 with the existing entry, whatever its status now."
    )
    def post(self, data):
        """Add a product to the wishlist."""
        entry, created = services.add_to_wishlist(user_id=current_user.id, product=data["product"])
        return entry, 201 if created else 200


@blp.route("/wishlists/<int:entry_id>/")
class WishlistEntryById(MethodView):
    @blp.login_required()
    @blp.response(204)
    @blp.documents(404)
    @blp.doc(description="Only the owner's entries: any other id (another user's included) → 404.")
    def delete(self, entry_id):
        """Remove an entry from the wishlist."""
        services.delete_wishlist_item(user_id=current_user.id, entry_id=entry_id)
