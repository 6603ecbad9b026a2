"""What the desk's header needs on every page."""

from frontend.dashboard import may_watch
from grid.territory import Territory


def desk(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    # A callable: the template asks only when it draws the header (never for JSON).
    return {"may_watch": lambda: may_watch(Territory.for_user(user))}
