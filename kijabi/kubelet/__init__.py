"""kubelet: runs the pods bound to its node in real containers through CRI, and reports them.

    kijabi.kubelet
    ├── main            `kijabi kubelet`: flags, the runtime connection, run until stopped
    ├── kubelet         `Kubelet`: pod sources, workers, relist, housekeeping; `PodInfo` for the kubelet API
    ├── config          `KubeletConfig` and the filesystem layout (`KubeletPaths`)
    ├── podworkers      one task per pod: SYNCING -> TERMINATING -> TERMINATED
    ├── kuberuntime     one sync against CRI: compute_actions (pure) and PodRuntimeManager (sandbox,
    │                   containers, hooks, kills, CrashLoopBackOff)
    ├── runtimestate    a pod's sandboxes and containers as CRI reports them
    ├── podconfig       CRI sandbox and container configs (DNS, hosts, cgroups, resources, security)
    ├── envvars         container environment and $(VAR) expansion
    ├── volumes         emptyDir, configMap, secret, downwardAPI, projected, hostPath, PVC (+ atomicwriter)
    ├── objects         watched ConfigMaps and Secrets
    ├── imagepull       imagePullPolicy, imagePullSecrets, pull backoff
    ├── probes          startup/liveness/readiness workers (+ actions: exec, httpGet, tcpSocket, grpc)
    ├── podstatus       the API status of a pod (pure); statusmanager writes it
    ├── nodestatus      Node registration and status, the node Lease (+ machine)
    ├── staticpods      manifests and mirror pods
    ├── eviction        node-pressure eviction
    ├── logs            container log rotation
    ├── cgroups         pod-level cgroups
    ├── lookup          the kubelet API's PodLookup over the kubelet core
    ├── labels, podutil, backoff
    └── (foundation) cri/, containerd, images, cni, cleanup; (kubelet API) server, streaming/
"""
