from django.urls import path

from cases import api

urlpatterns = [
    path("categories/", api.categories, name="api-categories"),
    path("tasks/", api.tasks, name="api-tasks"),
    path("metrics/", api.metrics_view, name="api-metrics"),
    path("cases/", api.cases, name="api-cases"),
    path("cases/<str:number>/", api.case, name="api-case"),
    path("cases/<str:number>/<str:action>/", api.case_action, name="api-case-action"),
]
