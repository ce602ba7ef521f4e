"""kube-apiserver: the HTTP API over the store."""
