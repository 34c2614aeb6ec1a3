"""The Celery application: configuration comes from Django settings (CELERY_* names)."""

from __future__ import annotations

import importlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("trainwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue(task_name: str, *args: object) -> None:
    """Queue a registered task by its name (in-process when tasks run eagerly).

    Services queue their own tasks this way rather than by importing the tasks module, which
    imports the services: the task names are the contract (and stay stable across refactors).
    """
    if task_name not in app.tasks:  # outside a worker, a tasks module is imported on first use
        importlib.import_module(task_name.rpartition(".")[0])
    app.tasks[task_name].delay(*args)
