"""Client library: REST client, informers, workqueue, leader election. Every component builds on it."""
