"""Celery tasks of the orders domain: thin, they take ids and call a service."""
