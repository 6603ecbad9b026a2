from django.urls import path

from cases import api

urlpatterns = [
    path("cases/", api.cases, name="api-cases"),
    path("cases/<str:number>/", api.case, name="api-case"),
    path("cases/<str:number>/<str:action>/", api.case_action, name="api-case-action"),
]
