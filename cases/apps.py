from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = _("Cases")

    def ready(self) -> None:
        from cases import checks, loop, reference, signals  # noqa: F401 (checks registers)

        reference.connect()
        signals.connect()
        # The loop table, its forms, services and the flow must agree before
        # anything is served: a wrong route is a start-up error.
        loop.check()
