"""cloud-controller-manager: node, route, service and volume controllers."""
