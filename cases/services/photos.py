"""Photos: checked to be real images of an allowed kind and size before anything is saved."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from cases.models import Attachment, Case, TimelineEntry
from cases.services.errors import ServiceError

if TYPE_CHECKING:
    from cases.services.permissions import AnyUser

Checked = list[tuple[UploadedFile, str]]

MAX_PHOTO_BYTES = 10 * 1024 * 1024


PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def _check_photo(upload: UploadedFile) -> str:

    name = getattr(upload, "name", "") or "photo"
    if upload.size > MAX_PHOTO_BYTES:
        raise ServiceError(
            _("%(name)s is larger than %(mb)d MB.") % {"name": name, "mb": MAX_PHOTO_BYTES >> 20}
        )
    try:
        upload.seek(0)
        with Image.open(io.BytesIO(upload.read())) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ServiceError(_("%(name)s is not an image.") % {"name": name}) from None
    if kind not in PHOTO_TYPES:
        raise ServiceError(_("%(name)s must be a JPEG, PNG or WebP image.") % {"name": name})
    upload.seek(0)
    return PHOTO_TYPES[kind]


def check_photos(photos: Sequence[UploadedFile]) -> Checked:
    return [(photo, _check_photo(photo)) for photo in photos]


def save_photos(
    case: Case, entry: TimelineEntry | None, checked: Checked, actor: AnyUser
) -> list[Attachment]:
    return [
        Attachment.objects.create(
            case=case,
            entry=entry,
            file=upload,
            content_type=content_type,
            size=upload.size,
            uploaded_by=actor,
        )
        for upload, content_type in checked
    ]
