"""Workload controllers: deployment, replicaset, statefulset, daemonset, job, cronjob,
replicationcontroller. `CONTROLLERS` maps upstream's controller names to constructors."""

from __future__ import annotations

from kijabi.controllers.context import Constructor

CONTROLLERS: dict[str, Constructor] = {}
