from django.db import models


class Note(models.Model):
    text = models.TextField()

    class Meta:
        app_label = "demoapp"
        # An explicit name, as reproq-django's TaskRun has: without one, Django 3.2 asks the
        # default backend for its name length limit while it defines the model (importing it).
        db_table = "demoapp_note"
