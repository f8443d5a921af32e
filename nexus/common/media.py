"""Uploaded media: stored under MEDIA_ROOT with generated names, served at MEDIA_URL (/media/...)."""

from __future__ import annotations

from flask import current_app, send_from_directory


def serve_media(filename: str):
    return send_from_directory(current_app.config["MEDIA_ROOT"], filename, max_age=86400)
