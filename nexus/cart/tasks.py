"""Celery tasks of the cart domain: thin, they take ids and call a service."""
