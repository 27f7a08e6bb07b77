from django.urls import path

from leadpost.records import views

urlpatterns = [
    path("records", views.record_list, name="api-record-list"),
    path("records/<int:record_id>", views.record_detail, name="api-record-detail"),
    path(
        "attachments/<int:attachment_id>/content",
        views.attachment_content,
        name="api-attachment-content",
    ),
]
