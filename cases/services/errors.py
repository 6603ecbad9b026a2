"""What a refused action raises."""


class ServiceError(Exception):
    """A refused action; the message is shown to the person who tried it."""


class NotFound(ServiceError):
    """The case does not exist in the actor's territory (shown as 404)."""
