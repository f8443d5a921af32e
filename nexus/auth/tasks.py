"""Celery tasks of the auth domain: thin, they take ids and call a service."""
