"""Celery tasks of the auth domain: thin, they take ids and call a service."""

from celery import shared_task

from nexus.auth import services


@shared_task(name="auth.send_verification_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_verification_email_task(user_id: int) -> bool:
    return services.send_verification_email(user_id=user_id)


@shared_task(name="auth.send_password_reset_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_password_reset_email_task(user_id: int) -> bool:
    return services.send_password_reset_email(user_id=user_id)


@shared_task(name="auth.purge_revoked_tokens")
def purge_revoked_tokens_task() -> int:
    return services.purge_revoked_tokens()
