"""kube-scheduler: places pods on nodes (API only)."""
