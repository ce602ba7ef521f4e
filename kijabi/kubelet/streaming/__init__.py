"""The kubelet API's machinery (served by `kijabi.kubelet.server`).

    kijabi.kubelet.streaming
    ├── labels     CRI label keys tying sandboxes/containers to pods (set by the kubelet core)
    ├── lookup     PodLookup / PodInventory / PodLister protocols; CRIPodLookup answers them from CRI labels
    ├── logs       CRI log format: parsing, tail, since, timestamps, limit, follow across rotation
    ├── relay      upgrade-aware proxy from an aiohttp request to the runtime's streaming server
    ├── stats      cgroup v1/v2 usage, Summary API, /metrics/resource
    └── auth       serving certificate from the cluster CA, client-certificate and TokenReview authentication

Protocol framing (SPDY, WebSocket channels) lives in `kijabi.machinery.streams`; the kubelet itself only
relays upgraded connections: containerd's streaming server speaks exec/attach/port-forward.
"""
