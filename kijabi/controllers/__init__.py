"""kube-controller-manager: the controllers that make declared state real. They meet the rest of the
cluster only through the API (kijabi.client)."""
