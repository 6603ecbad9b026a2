from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import dashboard, mapviews, mobile, views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("m/", mobile.app, name="mobile"),
    path("m/manifest.webmanifest", mobile.manifest, name="mobile-manifest"),
    path("m/sw.js", mobile.service_worker, name="mobile-sw"),
    path("dashboard/", dashboard.desk, name="dashboard"),
    path("dashboard/report/", dashboard.monthly_report, name="dashboard-report"),
    path("map/", mapviews.live_map, name="map"),
    path("map/boundaries.json", mapviews.map_boundaries, name="map-boundaries"),
    path("map/cells.json", mapviews.map_cells, name="map-cells"),
    path("map/communities.json", mapviews.map_communities, name="map-communities"),
    path("map/snapshot.json", mapviews.map_snapshot, name="map-snapshot"),
    path("map/stats.json", mapviews.map_stats, name="map-stats"),
    path("map/cases/<str:number>.json", mapviews.map_case, name="map-case"),
    path("map/cells/<int:pk>.json", mapviews.map_cell, name="map-cell"),
]
