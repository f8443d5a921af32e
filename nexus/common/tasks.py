"""Background tasks every domain shares: email delivery and the outbox relay."""

from celery import shared_task

from nexus.common.mail import send_mail
from nexus.common.outbox import relay_outbox


@shared_task(name="common.send_email", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_email_task(to: str, subject: str, body: str) -> None:
    send_mail(to=to, subject=subject, body=body)


@shared_task(name="common.relay_outbox")
def relay_outbox_task() -> int:
    return relay_outbox()


@shared_task(name="common.purge_idempotency_keys")
def purge_idempotency_keys_task() -> int:
    from nexus.common.idempotency import purge_expired_keys

    return purge_expired_keys()
