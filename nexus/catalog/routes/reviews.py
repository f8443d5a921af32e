"""Review routes: public reading, customers writing their own."""

from flask.views import MethodView
from flask_jwt_extended import current_user

from nexus.catalog import services
from nexus.catalog.routes import blp
from nexus.catalog.routes.bodies import page_response, public_read
from nexus.catalog.routes.viewer import OPTIONAL_AUTH, viewer_is_staff
from nexus.catalog.schemas import ReviewCreateSchema, ReviewQueryArgsSchema, ReviewSchema, ReviewUpdateSchema
from nexus.common.pagination import page_schema

_PK = "`product_pk` is the product's slug or numeric id."
_OWN = "Only the review's author or staff: anyone else → 404."


@blp.route("/products/<product_pk>/reviews/")
class Reviews(MethodView):
    @public_read("reviews")
    @blp.arguments(ReviewQueryArgsSchema(), location="query")
    @blp.response(200, page_schema(ReviewSchema))
    @blp.documents(401, 404)
    @blp.doc(security=OPTIONAL_AUTH, description=f"{_PK} Newest first.")
    def get(self, args, product_pk):
        """A product's reviews."""
        return page_response(services.read_reviews(product_pk=product_pk, is_staff=viewer_is_staff(), **args))

    @blp.login_required()
    @blp.arguments(ReviewCreateSchema)
    @blp.response(201, ReviewSchema)
    @blp.documents(404, 409)
    @blp.doc(description=f"{_PK} One review per customer per product: a second → 409.")
    def post(self, data, product_pk):
        """Review a product."""
        return services.create_review(
            product_pk=product_pk, user_id=current_user.id, is_staff=current_user.is_staff, **data
        )


@blp.route("/products/<product_pk>/reviews/<int:review_id>/")
class ReviewById(MethodView):
    @blp.login_required()
    @blp.arguments(ReviewUpdateSchema)
    @blp.response(200, ReviewSchema)
    @blp.documents(404)
    @blp.doc(description=f"{_PK} {_OWN}")
    def patch(self, data, product_pk, review_id):
        """Edit a review."""
        return services.update_review(
            product_pk=product_pk,
            review_id=review_id,
            user_id=current_user.id,
            is_staff=current_user.is_staff,
            changes=data,
        )

    @blp.login_required()
    @blp.response(204)
    @blp.documents(404)
    @blp.doc(description=f"{_PK} {_OWN}")
    def delete(self, product_pk, review_id):
        """Delete a review."""
        services.delete_review(
            product_pk=product_pk, review_id=review_id, user_id=current_user.id, is_staff=current_user.is_staff
        )
