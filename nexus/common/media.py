"""Uploaded media: proven to be an image by decoding, stored under MEDIA_ROOT with generated names, served
at MEDIA_URL (/media/...)."""

from __future__ import annotations

import os
import secrets
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO

from flask import current_app, send_from_directory
from marshmallow import fields
from PIL import Image, UnidentifiedImageError, features
from werkzeug.datastructures import FileStorage

from nexus.common.errors import NexusError, ValidationFailed

# Pillow format → the extension files are stored with (never the client's file name).
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
THUMBNAIL_SIZE = (400, 400)


class ImageTooLarge(NexusError):
    status_code = 413
    message = "The image is too large."


class InvalidImage(ValidationFailed):
    """An upload that is not an image we accept (a 400 on the form field)."""


@dataclass(frozen=True)
class CheckedImage:
    """An upload that decoded as one of IMAGE_FORMATS within the size and pixel limits."""

    data: bytes
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return IMAGE_FORMATS[self.format]


def check_image(upload: FileStorage | IO[bytes], *, field: str = "image") -> CheckedImage:
    """Read and decode an upload: over MAX_IMAGE_BYTES → 413; not a JPEG/PNG/WebP/GIF, or more than
    MAX_IMAGE_PIXELS (a decompression bomb) → 400. The name and declared type are not trusted."""
    config = current_app.config
    max_bytes, max_pixels = config["MAX_IMAGE_BYTES"], config["MAX_IMAGE_PIXELS"]
    stream = upload.stream if isinstance(upload, FileStorage) else upload
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageTooLarge(f"The image is larger than the limit of {max_bytes} bytes.")

    def refuse(message: str) -> InvalidImage:
        # Uploads are multipart forms: reported like the form's other fields.
        return InvalidImage(errors={"form": {field: [message]}})

    if not data:
        raise refuse("The file is empty.")
    too_many_pixels = f"The image has more than {max_pixels} pixels."
    with warnings.catch_warnings():
        # Pillow warns (then errors) on huge images; here both are a refusal, never a crash or a warning.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(BytesIO(data), formats=list(IMAGE_FORMATS)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise refuse(too_many_pixels)
                image_format = image.format
                image.load()  # the header alone proves little: decode the pixels
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise refuse(too_many_pixels) from None
        except InvalidImage:
            raise
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise refuse("Not a valid image: upload a JPEG, PNG, WebP or GIF file.") from None
    return CheckedImage(data=data, format=image_format, width=width, height=height)


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def _path(name: str) -> Path:
    root = media_root().resolve()
    path = (root / name).resolve()
    if root not in path.parents:
        raise ValueError(f"media path outside MEDIA_ROOT: {name!r}")
    return path


def _write(name: str, data: bytes) -> None:
    path = _path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    partial.write_bytes(data)
    # Readers never see half a file.
    os.replace(partial, path)


def store(name: str, data: bytes) -> None:
    """Write a file at a chosen media path (generated demo placeholders, which reruns reuse)."""
    _write(name, data)


def save_image(image: CheckedImage, *, folder: str) -> str:
    """Store the image under MEDIA_ROOT/folder with a generated name; returns its media path."""
    name = f"{folder.strip('/')}/{secrets.token_hex(16)}.{image.extension}"
    _write(name, image.data)
    return name


def thumbnail_name(name: str) -> str:
    """Where the thumbnail of the image stored at `name` goes (derived, so making it twice is harmless)."""
    stem, _, _ = name.rpartition(".")
    return f"{stem}_thumb.{_thumbnail_extension(name)}"


def _thumbnail_extension(name: str) -> str:
    extension = name.rpartition(".")[2].lower()
    if extension == "webp" and not features.check("webp"):
        return "png"
    return extension if extension in IMAGE_FORMATS.values() else "png"


def make_thumbnail(name: str, *, size: tuple[int, int] = THUMBNAIL_SIZE) -> str:
    """Write a thumbnail (at most `size`, aspect kept) of the stored image `name`; returns its media path."""
    target = thumbnail_name(name)
    extension = target.rpartition(".")[2]
    with Image.open(_path(name), formats=list(IMAGE_FORMATS)) as image:
        image.thumbnail(size)
        if extension == "jpg" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        out = BytesIO()
        image.save(out, format={v: k for k, v in IMAGE_FORMATS.items()}[extension])
    _write(target, out.getvalue())
    return target


def exists(name: str) -> bool:
    return _path(name).is_file()


def delete_media(*names: str | None) -> None:
    """Remove stored files; missing ones are fine (deleting twice is harmless)."""
    for name in names:
        if name:
            _path(name).unlink(missing_ok=True)


def media_url(name: str | None) -> str | None:
    """The URL a stored media path is served at, or None."""
    if not name:
        return None
    return current_app.config["MEDIA_URL"].rstrip("/") + "/" + name.lstrip("/")


class MediaURL(fields.String):
    """Dumps a stored media path as its URL (null when there is none)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault("example", "/media/products/1/3f2a9c.jpg")
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return media_url(value)


def serve_media(filename: str):
    response = send_from_directory(current_app.config["MEDIA_ROOT"], filename, max_age=86400)
    # Stored files are images we decoded, named by their real format; never let a browser sniff them as HTML.
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
