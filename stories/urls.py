from django.urls import path

from stories.views import story_page

urlpatterns = [
    path("stories/<int:pk>/", story_page, name="story"),
]
