"""The scheduling framework: plugin contracts and the runtime that runs them.

    status      Status and codes, NodeToStatus, Diagnosis, FitError (upstream's messages)
    events      cluster events, action types, queueing hints
    types       PodInfo, NodeInfo, Resource, QueuedPodInfo (parsed once, aggregated incrementally)
    selectors   label / node selectors and taints, compiled for fast matching
    interface   one Protocol per extension point, CycleState, Handle, results
    runtime     Framework: one profile's plugins and the rules for running them
"""
