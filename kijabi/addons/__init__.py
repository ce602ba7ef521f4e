"""Addons: DNS, dashboard, metrics, logging."""
