"""What the lake's format asks of an object store, tried on real servers on loopback (moto's S3,
a GCS emulator): files deleted by their exact names, a batch of names a request; a writer
lease as exclusive as on local disk, whatever the writers' timing (S3's conditional PUT, GCS's
generation preconditions), and on GCS renewed only while its file is as its holder left it."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.lake import documents
from pipeline.lake.lease import LeaseHeld, LeaseLost, WriterLease
from pipeline.lake.storage import GCS_BATCH, S3_BATCH, delete_exactly, share_s3_service_data

pytestmark = [pytest.mark.e2e, pytest.mark.long]


@pytest.fixture
def beam_reaches(store):
    """Beam's filesystems (and so feedlake's own requests) given the store's options."""
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    FileSystems.set_options(PipelineOptions(store.flags))
    if store.scheme == "s3":  # as feedlake's commands do for an S3 lake
        share_s3_service_data()
    yield store
    FileSystems.set_options(PipelineOptions([]))


def delete_requests(store, monkeypatch) -> list[int]:
    """The names in each delete request the store receives, as they are sent."""
    sent: list[int] = []
    if store.scheme == "s3":
        from pipeline.lake import storage

        real = storage.s3_client

        def counted():
            client = real()
            client.meta.events.register(
                "provide-client-params.s3.DeleteObjects",
                lambda params, **_: sent.append(len(params["Delete"]["Objects"])),
            )
            return client

        monkeypatch.setattr(storage, "s3_client", counted)
    return sent


def test_files_are_deleted_by_their_exact_names_a_batch_a_request(
    beam_reaches, monkeypatch, request
):
    store = beam_reaches
    names = [
        f"many/part-{n:04d}.avro"
        for n in range(S3_BATCH + 1 if store.scheme == "s3" else 2 * GCS_BATCH + 1)
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: store.write(key, b"x"), names))
    for key in ("odd/a*b.avro", "odd/a-b.avro", "odd/a[1].avro", "odd/a1.avro", "odd/a?.avro"):
        store.write(key, b"x")
    sent = delete_requests(store, monkeypatch)
    emulator = request.getfixturevalue("gcs") if store.scheme == "gs" else None
    before = len(emulator.requests) if emulator else 0

    gone = [store.uri(name) for name in names] + [store.uri("many/never-there.avro")]
    delete_exactly([*gone, store.uri("odd/a*b.avro"), store.uri("odd/a[1].avro")])
    seen = [r for r in emulator.requests[before:] if r[1] != "/token"] if emulator else []

    assert store.keys("many/") == []
    assert store.keys("odd/") == [
        "odd/a-b.avro",
        "odd/a1.avro",
        "odd/a?.avro",
    ]  # names, not patterns
    if store.scheme == "s3":
        assert sent == [S3_BATCH, 4]  # 1,004 names: two DeleteObjects requests
    else:
        batches = [r for r in seen if r[:2] == ("POST", "/batch/storage/v1")]
        assert len(batches) == 3  # 204 names, at most 100 a request
        listings = [r for r in seen if "/o?" in r[1] or r[1].endswith("/o")]
        assert listings == []  # and no name was listed as a pattern first


def test_on_a_local_disk_names_are_unlinked_exactly(tmp_path):
    for name in ("a*b", "a-b", "a[1]", "a1"):
        (tmp_path / name).write_bytes(b"x")
    delete_exactly([str(tmp_path / "a*b"), str(tmp_path / "a[1]"), str(tmp_path / "gone")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-b", "a1"]


@pytest.fixture
def gcs_bucket(gcs):
    from tests.support.stores import Store

    store = Store.gcs(gcs)
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    FileSystems.set_options(PipelineOptions([]))
    return store


def test_eight_writers_racing_for_a_document_one_wins(beam_reaches, monkeypatch):
    # How long a writer waits before reading back is a guess about the store; the store's own
    # answer (S3's If-None-Match, GCS's generation precondition) must not depend on it.
    store = beam_reaches
    monkeypatch.setattr(documents, "SETTLE_SECONDS", 0.0)
    for attempt in range(3):
        path = store.uri(f"race/doc-{attempt}.json")
        barrier = threading.Barrier(8)

        def create(writer: int, path: str = path, barrier=barrier) -> bool:
            barrier.wait()
            return documents.create_json_exclusive(path, {"writer": writer})

        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(create, range(8)))
        assert sorted(won) == [False] * 7 + [True]
        winner = won.index(True)
        assert json.loads(store.read(f"race/doc-{attempt}.json")) == {"writer": winner}


def test_a_slow_writer_does_not_also_win_a_document_another_won(beam_reaches, monkeypatch):
    """Writer B finds no document, then stalls (a pause, a slow network) until writer A has
    created it and confirmed it; B then writing too must not make two winners."""
    from apache_beam.io.filesystems import FileSystems

    store = beam_reaches
    path = store.uri("race/slow.json")
    first_won = threading.Event()
    real_exists = FileSystems.exists

    def exists(checked: str) -> bool:
        found = real_exists(checked)
        if threading.current_thread().name == "slow":
            first_won.wait(30)
        return found

    monkeypatch.setattr(FileSystems, "exists", staticmethod(exists))
    won = {}

    def create(name: str) -> None:
        won[name] = documents.create_json_exclusive(path, {"writer": name})
        if name == "fast":
            first_won.set()

    slow = threading.Thread(target=create, args=("slow",), name="slow")
    slow.start()
    create("fast")
    slow.join()
    assert sorted(won.values()) == [False, True]
    winner = next(name for name, took in won.items() if took)
    assert json.loads(store.read("race/slow.json")) == {"writer": winner}


def test_eight_writers_racing_for_a_lake_one_holds_it(beam_reaches, monkeypatch):
    store = beam_reaches
    monkeypatch.setattr(documents, "SETTLE_SECONDS", 0.0)
    lake = store.uri("lake")
    barrier = threading.Barrier(8)
    leases = [WriterLease(lake, "run", f"writer-{n}") for n in range(8)]

    def take(lease: WriterLease) -> bool:
        barrier.wait()
        try:
            lease.acquire()
        except LeaseHeld:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        held = list(pool.map(take, leases))
    try:
        assert held.count(True) == 1
        assert store.keys("lake/_lease/") == ["lake/_lease/lease-000000000001.json"]
        stored = json.loads(store.read("lake/_lease/lease-000000000001.json"))
        assert stored["token"] == leases[held.index(True)].token
    finally:
        for lease in leases:
            lease.release()


def test_a_second_writer_exits_3_naming_the_holder_and_writes_nothing(beam_reaches, capsys):
    from pipeline.cli import main
    from tests.conftest import SAMPLE_DROP

    store = beam_reaches
    lake = store.uri("leased")
    with WriterLease(lake, "run", "holder") as lease:
        lease.acquire()
        argv = ["run", "--drops", str(SAMPLE_DROP), "--lake", lake, "--quiet", *store.flags]
        assert main(argv) == 3
    err = capsys.readouterr().err.strip()
    assert "is being written by feedlake run (run holder" in err and len(err.splitlines()) == 1
    assert store.keys("leased/") == ["leased/_lease/lease-000000000001.json"]


def test_a_gcs_lease_whose_file_someone_else_rewrote_is_lost_at_its_next_heartbeat(gcs_bucket):
    lake = gcs_bucket.uri("lake")
    key = "lake/_lease/lease-000000000001.json"
    with WriterLease(lake, "run", "holder", ttl=600, heartbeat=300) as lease:
        lease.acquire()
        lease.renew()  # its own heartbeats go on
        stolen = {**json.loads(gcs_bucket.read(key)), "token": "someone-else"}
        gcs_bucket.write(key, json.dumps(stolen).encode())
        with pytest.raises(LeaseLost, match="changed"):
            lease.renew()
        assert json.loads(gcs_bucket.read(key))["token"] == "someone-else"  # not overwritten
        with pytest.raises(LeaseLost):
            lease.check()


def test_a_gcs_lease_deleted_under_its_holder_is_lost_not_written_again(gcs_bucket):
    lake = gcs_bucket.uri("lake")
    with WriterLease(lake, "run", "holder", ttl=600, heartbeat=300) as lease:
        lease.acquire()
        gcs_bucket.client.bucket(gcs_bucket.bucket).blob(
            "lake/_lease/lease-000000000001.json"
        ).delete()
        with pytest.raises(LeaseLost):
            lease.renew()
    assert gcs_bucket.keys("lake/_lease/") == []
