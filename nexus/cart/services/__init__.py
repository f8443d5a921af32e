"""The cart domain's business rules; one module per resource, all re-exported here."""

from nexus.cart.services.carts import (  # noqa: F401
    add_item,
    add_item_to_cart,
    check_quantity,
    clear_cart,
    get_cart,
    get_cart_item,
    get_or_create_cart,
    list_cart_items,
    lock_cart,
    remove_item,
    set_item_quantity,
    take_lines,
)
from nexus.cart.services.views import CartLine, CartView, ProductCard, WishlistEntry, main_images  # noqa: F401
from nexus.cart.services.wishlists import (  # noqa: F401
    add_to_wishlist,
    delete_wishlist_item,
    find_product,
    list_wishlist_items,
)
