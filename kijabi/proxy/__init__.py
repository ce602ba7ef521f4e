"""kube-proxy: services into kernel rules."""
