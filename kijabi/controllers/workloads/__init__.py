"""Workload controllers: deployment, replicaset, statefulset, daemonset, job, cronjob,
replicationcontroller. `CONTROLLERS` maps upstream's controller names to constructors."""

from __future__ import annotations

from kijabi.controllers.context import Constructor
from kijabi.controllers.workloads.cronjob import new_cronjob_controller
from kijabi.controllers.workloads.daemonset import new_daemonset_controller
from kijabi.controllers.workloads.deployment import new_deployment_controller
from kijabi.controllers.workloads.job import new_job_controller
from kijabi.controllers.workloads.replicaset import (
    new_replicaset_controller,
    new_replicationcontroller_controller,
)
from kijabi.controllers.workloads.statefulset import new_statefulset_controller

CONTROLLERS: dict[str, Constructor] = {
    "deployment": new_deployment_controller,
    "replicaset": new_replicaset_controller,
    "replicationcontroller": new_replicationcontroller_controller,
    "job": new_job_controller,
    "cronjob": new_cronjob_controller,
    "statefulset": new_statefulset_controller,
    "daemonset": new_daemonset_controller,
}
