from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views import defaults
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cases import views as case_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("grid.api_urls")),
    path("api/v1/", include("cases.api_urls")),
    path("api/v1/", include("patrols.api_urls")),
    path("api/v1/", include("diary.api_urls")),
    path("open311/v2/", include("cases.open311_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("cases/", include("cases.urls")),
    path("territory/", include("grid.urls")),
    # The resident's own page: no login (cases.residents).
    path("r/", include("cases.resident_urls")),
    # Uploaded files go through a permission check, in development and production alike.
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", case_views.media, name="media"),
    path("", include("patrols.urls")),
    path("diary/", include("diary.urls")),
    path("", include("frontend.urls")),
]


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The API answers an unknown URL in JSON, as it answers everything else."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


handler404 = not_found
