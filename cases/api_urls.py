from django.urls import path

from cases import api

urlpatterns = [
    path("exports/", api.exports, name="api-exports"),
    path("exports/<int:pk>/", api.export_status, name="api-export"),
    path("exports/<int:pk>/download/", api.export_download, name="api-export-download"),
    path("categories/", api.categories, name="api-categories"),
    path("tasks/", api.tasks, name="api-tasks"),
    path("notifications/", api.notifications, name="api-notifications"),
    path("notifications/read/", api.notifications_read, name="api-notifications-read"),
    path("metrics/", api.metrics_view, name="api-metrics"),
    path("cases/", api.cases, name="api-cases"),
    path("cases/nearby/", api.nearby, name="api-cases-nearby"),
    path("cases/<str:number>/", api.case, name="api-case"),
    path("cases/<str:number>/support/", api.support, name="api-case-support"),
    path("cases/<str:number>/photos/<int:pk>/", api.case_photo, name="api-case-photo"),
    *api.action_patterns(),
]
