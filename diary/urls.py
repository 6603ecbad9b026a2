from django.urls import path

from diary import views

app_name = "diary"
urlpatterns = [
    path("", views.search, name="search"),
    path("<int:pk>/", views.detail, name="detail"),
]
