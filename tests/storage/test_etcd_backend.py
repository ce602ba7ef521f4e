"""etcd backend: endpoints, what gRPC errors mean, keys as stored in etcd, writes whose answer was lost,
unreachable clusters, TLS with client certificates.

Member failures (killing the leader during writes and watches) are in test_etcd_failover.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from kijabi.storage import (
    MAX_VALUE_BYTES,
    Conflict,
    Event,
    KeyExists,
    KeyValue,
    StorageError,
    Unavailable,
    ValueTooLarge,
)
from kijabi.storage._etcd_client import Failure, classify
from kijabi.storage._etcd_endpoints import Endpoint, parse_endpoints, split_url
from kijabi.storage._etcd_watch import WriteTracker
from kijabi.storage.etcd import EtcdStorage
from tests.storage.etcd_cluster import EtcdCluster, TLSFiles
from tests.storage.storage_testlib import collect, eventually, require_etcd

Opener = Callable[..., Awaitable[EtcdStorage]]
KEY = "/registry/configmaps/default/cm"


# --- endpoints --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoints", "tls_files", "expected"),
    [
        (["127.0.0.1:2379"], False, [Endpoint("127.0.0.1", 2379, False)]),
        (
            ["etcd://h1:2379", "etcd://h2:3379"],
            False,
            [Endpoint("h1", 2379, False), Endpoint("h2", 3379, False)],
        ),
        (["etcd://h1"], True, [Endpoint("h1", 2379, True)]),
        (
            ["https://h1:2379", "https://h2:2379"],
            False,
            [Endpoint("h1", 2379, True), Endpoint("h2", 2379, True)],
        ),
        (["http://h1:2379"], True, [Endpoint("h1", 2379, False)]),
        (["[::1]:2379"], False, [Endpoint("::1", 2379, False)]),
    ],
    ids=[
        "host:port is plaintext",
        "etcd scheme, several members",
        "etcd scheme with certificate files is TLS, default port",
        "https is TLS",
        "http stays plaintext",
        "IPv6 literal",
    ],
)
def test_parse_endpoints(endpoints: list[str], tls_files: bool, expected: list[Endpoint]) -> None:
    assert parse_endpoints(endpoints, tls_files=tls_files) == expected


@pytest.mark.parametrize(
    "endpoints",
    [[], ["ftp://h:1"], ["http://h:1", "https://h:2"], ["etcd://h:notaport"], ["etcd://h:1/path"]],
    ids=["none", "unknown scheme", "mixed http and https", "bad port", "path"],
)
def test_parse_endpoints_refuses(endpoints: list[str]) -> None:
    with pytest.raises(StorageError):
        parse_endpoints(endpoints, tls_files=False)


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("etcd://h1:2379,h2:2379", ["etcd://h1:2379", "etcd://h2:2379"]),
        ("https://h1:2379,https://h2:2379", ["https://h1:2379", "https://h2:2379"]),
        ("https://h1:2379,h2:2379", ["https://h1:2379", "https://h2:2379"]),
    ],
    ids=["k3s etcd scheme", "one URL per member", "scheme carried to the next member"],
)
def test_split_url(url: str, parts: list[str]) -> None:
    assert split_url(url) == parts


def test_from_url_reads_every_member() -> None:
    store = EtcdStorage.from_url("etcd://10.0.0.1:2379,10.0.0.2:2379")  # not started: nothing is sent
    assert [e.target for e in store._client.endpoints] == ["10.0.0.1:2379", "10.0.0.2:2379"]


# --- errors -----------------------------------------------------------------------------------------


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


@pytest.mark.parametrize(
    ("code", "details", "failure"),
    [
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; ... Connection refused",
            Failure.NOT_APPLIED,
        ),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: no leader", Failure.NOT_APPLIED),
        (grpc.StatusCode.UNAVAILABLE, "etcdserver: leader changed", Failure.NOT_APPLIED),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: too many requests", Failure.NOT_APPLIED),
        (grpc.StatusCode.UNKNOWN, "raft proposal dropped", Failure.NOT_APPLIED),
        (grpc.StatusCode.UNAVAILABLE, "Socket closed", Failure.UNKNOWN),
        (
            grpc.StatusCode.UNAVAILABLE,
            "etcdserver: request timed out, possibly due to previous leader failure",
            Failure.UNKNOWN,
        ),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", Failure.UNKNOWN),
        (
            grpc.StatusCode.OUT_OF_RANGE,
            "etcdserver: mvcc: required revision has been compacted",
            Failure.ANSWER,
        ),
        (grpc.StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large", Failure.ANSWER),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded", Failure.ANSWER),
        (grpc.StatusCode.PERMISSION_DENIED, "etcdserver: permission denied", Failure.ANSWER),
    ],
    ids=[
        "connection refused",
        "member without leader",
        "read index lost to a leader change",
        "member overloaded",
        "proposal dropped",
        "connection lost after sending",
        "etcd's own request timeout",
        "attempt deadline",
        "compacted",
        "request too large",
        "space quota",
        "permission denied",
    ],
)
def test_classify(code: grpc.StatusCode, details: str, failure: Failure) -> None:
    """Only failures that prove the request had no effect may resend a write blindly."""
    assert classify(_rpc_error(code, details)) is failure


# --- keys -------------------------------------------------------------------------------------------


async def test_keys_are_stored_exactly_as_given(etcd_cluster: EtcdCluster, open_etcd: Opener) -> None:
    """With no prefix, the API server's keys are etcd's keys: etcdctl lists them under /registry/."""
    etcdctl = shutil.which("etcdctl")
    if etcdctl is None:
        pytest.skip("etcdctl is not installed (Debian package etcd-client)")
    store = await open_etcd(etcd_cluster.endpoints, prefix="")
    key = f"/registry/configmaps/keys-test-{os.getpid()}/cm"
    kv = await store.create(key, b'{"kind":"ConfigMap"}')
    try:
        out = await asyncio.to_thread(
            subprocess.run,
            [
                etcdctl,
                "--endpoints",
                ",".join(etcd_cluster.endpoints),
                "get",
                "--prefix",
                "/registry/configmaps/",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "ETCDCTL_API": "3"},
            timeout=30,
            check=True,
        )
        lines = out.stdout.splitlines()
        assert lines[lines.index(key) + 1] == '{"kind":"ConfigMap"}'
    finally:
        await store.delete(key, expected_revision=kv.mod_revision)


async def test_prefixed_stores_do_not_see_each_other(etcd_cluster: EtcdCluster, open_etcd: Opener) -> None:
    a = await open_etcd(etcd_cluster.endpoints)
    b = await open_etcd(etcd_cluster.endpoints)
    await a.create(KEY, b"a")
    assert await b.get(KEY) is None
    assert (await b.list("")).items == []
    assert await a.count("") == 1


async def test_etcds_own_size_refusal_is_value_too_large(
    etcd_cluster: EtcdCluster, open_etcd: Opener
) -> None:
    """A value within MAX_VALUE_BYTES whose request is still over etcd's --max-request-bytes (here with a
    very long key) is refused by etcd; the store reports ValueTooLarge and nothing is written."""
    store = await open_etcd(etcd_cluster.endpoints)
    key = "/registry/configmaps/ns/" + "k" * 600_000
    before = await store.current_revision()
    with pytest.raises(ValueTooLarge):
        await store.create(key, b"x" * MAX_VALUE_BYTES)
    assert await store.current_revision() == before


# --- writes whose answer is lost ----------------------------------------------------------------------


@dataclass
class LostAnswers:
    """Wraps every member's KV stub: the next `count` Txn calls reach etcd (if `applied`) but the client
    gets "Socket closed" instead of the answer, as when a member dies after applying a request.
    `before_error` runs between the apply and the error (to change the cluster meanwhile)."""

    count: int = 1
    applied: bool = True
    before_error: Callable[[], Awaitable[None]] | None = None
    txns: int = 0

    def install(self, store: EtcdStorage) -> None:
        for member in store._client._members:
            member.kv = _FaultyKV(member.kv, self)


class _FaultyKV:
    def __init__(self, real: Any, faults: LostAnswers) -> None:
        self._real = real
        self._faults = faults

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @property
    def Txn(self) -> Callable[..., Awaitable[Any]]:  # named like the gRPC method
        async def txn(request: Any, **kwargs: Any) -> Any:
            faults = self._faults
            faults.txns += 1
            if faults.count <= 0:
                return await self._real.Txn(request, **kwargs)
            faults.count -= 1
            if faults.applied:
                await self._real.Txn(request, **kwargs)
            if faults.before_error is not None:
                await faults.before_error()
            raise _rpc_error(grpc.StatusCode.UNAVAILABLE, "Socket closed")

        return txn


@pytest.fixture
async def lossy(etcd_cluster: EtcdCluster, open_etcd: Opener) -> tuple[EtcdStorage, LostAnswers]:
    store = await open_etcd(etcd_cluster.endpoints)
    faults = LostAnswers(count=0)
    faults.install(store)
    return store, faults


async def test_create_whose_answer_was_lost_returns_its_own_write(
    lossy: tuple[EtcdStorage, LostAnswers],
) -> None:
    """The create landed, the answer was lost: the retry finds the value it wrote and returns it as its
    own result, with the one revision the write used."""
    store, faults = lossy
    before = await store.current_revision()
    faults.count = 1
    kv = await store.create(KEY, b"mine")
    assert kv == KeyValue(KEY, b"mine", before + 1, before + 1)
    assert faults.txns == 2 and await store.current_revision() == before + 1


async def test_create_whose_request_was_lost_is_sent_again(lossy: tuple[EtcdStorage, LostAnswers]) -> None:
    store, faults = lossy
    before = await store.current_revision()
    faults.count, faults.applied = 1, False
    kv = await store.create(KEY, b"mine")
    assert kv.mod_revision == before + 1 and await store.get(KEY) == kv


async def test_lost_create_answer_does_not_hide_someone_elses_key(
    lossy: tuple[EtcdStorage, LostAnswers],
) -> None:
    """If the key another writer created holds a different value, the create still fails."""
    store, faults = lossy

    async def other_writer_creates() -> None:
        faults.count = 0
        await store.create(KEY, b"theirs")

    faults.count, faults.applied, faults.before_error = 1, False, other_writer_creates
    with pytest.raises(KeyExists):
        await store.create(KEY, b"mine")


async def test_compare_and_swap_whose_answer_was_lost_returns_its_own_write(
    lossy: tuple[EtcdStorage, LostAnswers],
) -> None:
    store, faults = lossy
    first = await store.create(KEY, b"v1")
    faults.count = 1
    kv = await store.update(KEY, b"v2", expected_revision=first.mod_revision)
    assert kv == KeyValue(KEY, b"v2", first.create_revision, first.mod_revision + 1)
    assert await store.current_revision() == first.mod_revision + 1


@pytest.mark.parametrize("conditional", [True, False], ids=["conditional", "unconditional"])
async def test_delete_whose_answer_was_lost_returns_the_deletion(
    lossy: tuple[EtcdStorage, LostAnswers], conditional: bool
) -> None:
    """The retry finds the key gone and reads its history for the deletion: the same result delete()
    gives when nothing goes wrong (the last value, at the deletion's revision)."""
    store, faults = lossy
    first = await store.create(KEY, b"v1")
    second = await store.update(KEY, b"v2", expected_revision=0)
    await store.create(KEY + "-other", b"x")  # the deletion is not right after the key's last write
    faults.count = 1
    kv = await store.delete(KEY, expected_revision=second.mod_revision if conditional else 0)
    assert kv == KeyValue(KEY, b"v2", first.create_revision, second.mod_revision + 2)
    assert await store.get(KEY) is None


@pytest.mark.parametrize("conditional", [True, False], ids=["conditional", "unconditional"])
async def test_lost_delete_answer_with_compacted_history_is_unavailable(
    lossy: tuple[EtcdStorage, LostAnswers], conditional: bool
) -> None:
    """When the history that would tell what happened is gone, the delete reports Unavailable (the
    caller can look again), never a wrong answer."""
    store, faults = lossy
    kv = await store.create(KEY, b"v1")

    async def compact_everything() -> None:
        await store.compact(await store.current_revision())

    faults.count, faults.before_error = 1, compact_everything
    with pytest.raises(Unavailable):
        await store.delete(KEY, expected_revision=kv.mod_revision if conditional else 0)
    assert await store.get(KEY) is None


async def test_lost_answers_do_not_break_the_watch_order(lossy: tuple[EtcdStorage, LostAnswers]) -> None:
    """A write retried after a lost answer appears once in the watch, after its caller got the result."""
    store, faults = lossy
    watch = store.watch("/registry/", from_revision=await store.current_revision())
    faults.count = 1
    a = await store.create(KEY, b"1")
    b = await store.update(KEY, b"2", expected_revision=a.mod_revision)
    got = await collect(watch, 2)
    assert [e.kv for e in got] == [a, b]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_conflict_after_a_lost_answer_is_still_a_conflict(
    lossy: tuple[EtcdStorage, LostAnswers],
) -> None:
    """A retried compare-and-swap that finds another writer's value reports that Conflict."""
    store, faults = lossy
    first = await store.create(KEY, b"v1")

    async def other_writer_updates() -> None:
        faults.count = 0
        await store.update(KEY, b"theirs", expected_revision=first.mod_revision)

    faults.count, faults.applied, faults.before_error = 1, False, other_writer_updates
    with pytest.raises(Conflict) as info:
        await store.update(KEY, b"mine", expected_revision=first.mod_revision)
    assert info.value.current is not None and info.value.current.value == b"theirs"


# --- the ordering contract ----------------------------------------------------------------------------


async def test_write_tracker_holds_an_event_only_for_writes_of_its_key_begun_before() -> None:
    tracker = WriteTracker()
    assert tracker.pending([b"/a"]) == []  # nothing in flight: at once
    first = tracker.begin(b"/a")
    other_key = tracker.begin(b"/b")
    held = tracker.pending([b"/a"])
    later = tracker.begin(b"/a")  # begun after the event arrived: not waited for
    assert held == [first] and not first.done()
    tracker.end(b"/a", first)
    assert all(done.done() for done in held)
    assert tracker.pending([b"/a", b"/b"]) == [later, other_key]
    tracker.end(b"/a", later)
    tracker.end(b"/b", other_key)
    assert tracker.pending([b"/a", b"/b"]) == []


async def test_event_waits_for_the_answer_of_its_write(etcd_cluster: EtcdCluster, open_etcd: Opener) -> None:
    """etcd sends the event of a write to watchers on its own schedule; the store hands it to the
    consumer only after the write's caller has its answer (Storage ordering contract)."""
    store = await open_etcd(etcd_cluster.endpoints)
    release = asyncio.Event()
    for member in store._client._members:
        member.kv = _HeldAnswers(member.kv, release)
    got: list[Event] = []
    start = await store.current_revision()  # before the write: a watch from after it would miss its event

    async def consume() -> None:
        async for event in store.watch("/registry/", from_revision=start):
            got.append(event)

    consumer = asyncio.ensure_future(consume())
    write = asyncio.ensure_future(store.create(KEY, b"1"))

    async def event_arrived_and_held() -> bool:  # the watch has the event (and waits for the write)
        return any(watcher.cursor > start for watcher in store._watchers)

    await eventually(event_arrived_and_held)
    assert got == [] and not write.done()
    release.set()
    kv = await write
    await eventually(lambda: _true_if(bool(got)))
    assert [e.kv for e in got] == [kv]
    consumer.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consumer


async def _true_if(value: bool) -> bool:
    return value


class _HeldAnswers:
    """Wraps a KV stub: Txn answers are held back until `release` is set."""

    def __init__(self, real: Any, release: asyncio.Event) -> None:
        self._real = real
        self._release = release

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @property
    def Txn(self) -> Callable[..., Awaitable[Any]]:  # named like the gRPC method
        async def txn(request: Any, **kwargs: Any) -> Any:
            resp = await self._real.Txn(request, **kwargs)
            await self._release.wait()
            return resp

        return txn


# --- periodic compaction ------------------------------------------------------------------------------


async def test_periodic_compaction_follows_the_revision_one_interval_behind(
    etcd_cluster: EtcdCluster, open_etcd: Opener
) -> None:
    """With compact_interval set, the store compacts to the revision it saw one interval earlier."""
    store = await open_etcd(etcd_cluster.endpoints, compact_interval=0.05, compact_keep=0)
    kv = await store.create(KEY, b"1")

    async def compacted_past_the_write() -> bool:
        return await store.compacted_revision() >= kv.mod_revision

    await eventually(compacted_past_the_write)
    assert await store.get(KEY) == kv, "compaction keeps the current state"


# --- unreachable clusters -----------------------------------------------------------------------------


async def test_start_without_a_reachable_member_is_unavailable(open_etcd: Opener) -> None:
    with pytest.raises(Unavailable):
        await open_etcd(["127.0.0.1:1", "127.0.0.1:2"], retry_timeout=0.5)


async def test_requests_fail_with_unavailable_when_every_member_is_down(open_etcd: Opener) -> None:
    """Once every member is gone, calls end with Unavailable after retry_timeout, not a hang."""
    require_etcd()
    cluster = EtcdCluster.start(1)
    try:
        store = await open_etcd(cluster.endpoints, retry_timeout=0.5)
        await store.create(KEY, b"1")
        cluster.kill(cluster.members[0])
        with pytest.raises(Unavailable):
            await store.get(KEY)
        with pytest.raises(Unavailable):
            await store.create(KEY + "2", b"1")
    finally:
        cluster.stop()


# --- TLS --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("etcd-tls"))


@pytest.fixture(scope="module")
def tls_cluster(tls_files: TLSFiles) -> Iterator[EtcdCluster]:
    require_etcd()
    cluster = EtcdCluster.start(1, tls=tls_files)
    try:
        yield cluster
    finally:
        cluster.stop()


async def test_tls_with_client_certificate(tls_cluster: EtcdCluster, tls_files: TLSFiles) -> None:
    """https:// endpoints with the CA, a client certificate and its key (etcd --client-cert-auth)."""
    url = f"https://{tls_cluster.endpoints[0]}"
    store = EtcdStorage.from_url(
        url, ca_file=tls_files.ca, cert_file=tls_files.client_cert, key_file=tls_files.client_key
    )
    async with store:
        kv = await store.create(KEY, b"over tls")
        assert await store.get(KEY) == kv
        await store.delete(KEY)


async def test_tls_without_client_certificate_is_refused(
    tls_cluster: EtcdCluster, tls_files: TLSFiles
) -> None:
    store = EtcdStorage([f"https://{tls_cluster.endpoints[0]}"], ca_file=tls_files.ca, retry_timeout=0.5)
    with pytest.raises(Unavailable):
        await store.start()


def make_tls_files(directory: Path) -> TLSFiles:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def write_key(name: str, key: ec.EllipticCurvePrivateKey) -> str:
        path = directory / name
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return str(path)

    def write_cert(name: str, cert: x509.Certificate) -> str:
        path = directory / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return str(path)

    def builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kijabi-test-etcd-ca")])
    ca = (
        builder("kijabi-test-etcd-ca", ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        builder("etcd", ca_name, server_key)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = (
        builder("kijabi-apiserver", ca_name, client_key)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return TLSFiles(
        ca=write_cert("ca.crt", ca),
        server_cert=write_cert("server.crt", server),
        server_key=write_key("server.key", server_key),
        client_cert=write_cert("client.crt", client),
        client_key=write_key("client.key", client_key),
    )
