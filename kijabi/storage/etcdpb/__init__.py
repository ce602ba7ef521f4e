"""etcd v3 wire definitions for the etcd storage backend: kijabi's own kv.proto and rpc.proto (the
subset of etcd's API that kijabi uses), and the modules generated from them (`kv_pb2`, `rpc_pb2`,
`rpc_pb2_grpc`). Regenerate with `.venv/bin/python -m kijabi.storage.etcdpb.generate`."""
