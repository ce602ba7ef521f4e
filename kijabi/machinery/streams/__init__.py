"""Kubernetes streaming protocols, without I/O: what exec, attach, port-forward and their proxies speak.

    kijabi.machinery.streams
    ├── channels          WebSocket channel framing (v5/v4/v1 `*.channel.k8s.io`, base64 variants)
    ├── spdy              SPDY/3.1 frames, header compression, a sans-I/O `Session`
    ├── spdy_dictionary   the SPDY/3 zlib header dictionary
    ├── remotecommand     exec/attach: stream types, protocol versions, options, exit statuses
    ├── portforward       port-forward stream pairing, SPDY-over-WebSocket tunnel protocols
    └── upgrade           HTTP/1.1 upgrade heads for proxies (request out, response back)

The API server (`kijabi.apiserver.proxy`), the kubelet API (`kijabi.kubelet.server`) and the tests use
these; none of them parses frames by hand.
"""
