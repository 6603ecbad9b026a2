from django.urls import path

from cases import views

app_name = "cases"
urlpatterns = [
    path("tasks/", views.my_tasks, name="tasks"),
    path("triage/", views.triage_queue, name="triage"),
    path("triage/bulk/", views.triage_bulk, name="triage-bulk"),
    path("new/", views.report, name="report"),
    path("ownership/", views.ownership, name="ownership"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/settings/", views.notification_settings, name="notification-settings"),
    path("notifications/<int:pk>/", views.notification, name="notification"),
    path("search/", views.search, name="search"),
    path("search/export/", views.search_export, name="search-export"),
    path("exports/", views.my_exports, name="exports"),
    path("<str:number>/", views.case_detail, name="detail"),
    path("<str:number>/<str:action>/", views.case_action, name="action"),
]
