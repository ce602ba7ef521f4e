"""kube-controller-manager: the controllers that make declared state real (API only)."""
