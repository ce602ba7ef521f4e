"""kube-scheduler: places pods on nodes, through the API only (upstream pkg/scheduler).

Modules:
    framework/   plugin contracts (one Protocol per extension point), Status, NodeInfo, the runtime
    plugins/     the default plugins (PrioritySort ... DefaultBinder) and their registry
    config       KubeSchedulerConfiguration v1: profiles, plugin sets and weights, plugin args
    queue        the scheduling queue: activeQ, backoffQ, unschedulable pods, nominator
    cache        nodes and pods (assumed ones included); also the node snapshot of an attempt
    scheduler    the scheduling and binding cycles, failure handling, event handlers
    metrics      Prometheus metrics;  server: /healthz, /readyz, /metrics
    main         `kijabi scheduler`: flags, informers, leader election (`run(argv)`, `SchedulerApp`)

Layering: kijabi.machinery and kijabi.client only; never another component.
"""
