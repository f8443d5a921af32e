"""Celery tasks of the catalog domain: thin, they take ids and call a service."""
