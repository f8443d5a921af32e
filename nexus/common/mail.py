"""Outgoing email: written to the log by default, to a JSON-lines file for tests, or sent over SMTP."""

from __future__ import annotations

import json
import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger("nexus.mail")


def send_mail(*, to: str, subject: str, body: str) -> None:
    config = current_app.config
    backend = config["MAIL_BACKEND"]
    if backend == "smtp":
        message = EmailMessage()
        message["From"] = config["MAIL_DEFAULT_SENDER"]
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config["SMTP_USER"]:
                smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"] or "")
            smtp.send_message(message)
    elif backend == "file":
        with open(config["MAIL_OUTBOX_FILE"], "a", encoding="utf-8") as outbox:
            outbox.write(json.dumps({"to": to, "subject": subject, "body": body}) + "\n")
    else:
        log.info("email to=%s subject=%r\n%s", to, subject, body)
