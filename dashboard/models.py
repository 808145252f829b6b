"""The dashboard stores nothing in the database; this model only carries its
permission, so it can be granted in the admin like any other."""

from django.db import models


class Dashboard(models.Model):
    """No table: the holder of ``dashboard.push_metric``."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("push_metric", "Can push custom metrics to the live dashboard"),
        ]

    def __str__(self) -> str:
        return "dashboard"
