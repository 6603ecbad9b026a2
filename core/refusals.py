"""The API's refusal body for the phone's patrol and diary endpoints.

{"detail": "<the first reason>", "errors": {field: [reasons]}}: the phone shows
`detail` as it is and can mark the fields named in `errors`.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response


def _first(errors) -> str:
    if isinstance(errors, dict):
        for value in errors.values():
            return _first(value)
        return ""
    if isinstance(errors, list | tuple):
        return _first(errors[0]) if errors else ""
    return str(errors)


def refusal(errors: dict | DjangoValidationError) -> Response:
    """A 400 naming the reason; `errors` is a serializer's errors or a service's refusal."""
    if isinstance(errors, DjangoValidationError):
        if hasattr(errors, "error_dict"):
            errors = {k: [str(m) for m in v] for k, v in errors.message_dict.items()}
        else:
            errors = {"detail": [str(m) for m in errors.messages]}
    errors = {k: [str(m) for m in v] if isinstance(v, list) else v for k, v in errors.items()}
    return Response(
        {"detail": _first(errors), "errors": errors}, status=status.HTTP_400_BAD_REQUEST
    )
