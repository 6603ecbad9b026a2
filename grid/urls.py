from django.urls import path

from grid import views

app_name = "grid"
urlpatterns = [
    path("cells/", views.cells, name="cells"),
    path("cells/<str:code>/", views.cell_history, name="cell-history"),
    path("workers/<str:username>/", views.worker_history, name="worker-history"),
    path("log/", views.staffing_log, name="staffing-log"),
]
