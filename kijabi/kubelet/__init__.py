"""kubelet: runs pods through CRI."""
