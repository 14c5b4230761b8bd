"""Object storage: local directory and S3 against a real S3-compatible server (moto) on loopback; encryption at
rest (format, tampering, rotation)."""

from __future__ import annotations

import base64
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from audiowave.service.crypto import SEGMENT, DecryptionError, Keyring
from audiowave.service.storage import ObjectStore

from servers import free_port


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    ).create_bucket(Bucket="audiowave")
    yield endpoint
    server.stop()


def exercise(store: ObjectStore, tmp_path) -> None:
    store.put_bytes("u1/j1/input.wav", b"RIFF....")
    local = tmp_path / "x.flac"
    local.write_bytes(b"fLaC")
    store.put_file("u1/j1/out/stems/bass.flac", local)
    store.put_bytes("u2/j9/input.wav", b"other user")
    assert store.get_bytes("u1/j1/input.wav") == b"RIFF...."
    assert store.list("u1") == ["u1/j1/input.wav", "u1/j1/out/stems/bass.flac"]
    assert store.exists("u1/j1/out/stems/bass.flac")
    assert store.delete_prefix("u1/j1") == 2
    assert store.list("u1") == [] and store.list("u2") == ["u2/j9/input.wav"]


def ring(*ids: str) -> Keyring:
    return Keyring(ids[0], {kid: os.urandom(32) for kid in ids})


@pytest.mark.parametrize("encrypted", [False, True])
def test_local_store(tmp_path, encrypted):
    exercise(ObjectStore(str(tmp_path / "objects"), keyring=ring("k1") if encrypted else None), tmp_path)


@pytest.mark.parametrize("encrypted", [False, True])
def test_s3_store_against_moto_server(tmp_path, s3_endpoint, s3_credentials, encrypted):
    store = ObjectStore("s3://audiowave/prefix", s3_endpoint_url=s3_endpoint, keyring=ring("k1") if encrypted else None)
    exercise(store, tmp_path)
    if encrypted:
        store.put_bytes("u3/j1/input.wav", b"RIFF secret take")
        raw = (
            boto3.client(
                "s3",
                endpoint_url=s3_endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            .get_object(Bucket="audiowave", Key="prefix/u3/j1/input.wav")["Body"]
            .read()
        )
        assert b"secret" not in raw and store.get_bytes("u3/j1/input.wav") == b"RIFF secret take"


@pytest.mark.parametrize("size", [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 5])
def test_encrypted_objects_round_trip_and_hide_their_content(tmp_path, size):
    store = ObjectStore(str(tmp_path / "objects"), keyring=ring("k1"))
    data = (b"unreleased-vocal-take " * (size // 22 + 1))[:size]
    local = tmp_path / "in.bin"
    local.write_bytes(data)
    store.put_file("u/j/input.wav", local)
    on_disk = (tmp_path / "objects/u/j/input.wav").read_bytes()
    assert on_disk.startswith(b"AWE1") and (size < 22 or b"unreleased-vocal-take" not in on_disk)
    assert store.get_file("u/j/input.wav", tmp_path / "out.bin").read_bytes() == data
    assert store.get_bytes("u/j/input.wav") == data and store.key_id("u/j/input.wav") == "k1"


def test_tampered_truncated_or_moved_ciphertext_does_not_decrypt(tmp_path):
    store = ObjectStore(str(tmp_path / "objects"), keyring=ring("k1"))
    store.put_bytes("u/j/input.wav", os.urandom(2 * SEGMENT + 100))
    path = tmp_path / "objects/u/j/input.wav"
    sealed = path.read_bytes()
    cases = {
        "flipped": sealed[:5000] + bytes([sealed[5000] ^ 1]) + sealed[5001:],
        "truncated at a segment boundary": sealed[: len(sealed) - 100 - 16],
        "segment dropped": sealed[: 12 + SEGMENT + 16] + sealed[12 + 2 * (SEGMENT + 16) :],
    }
    for name, damaged in cases.items():
        path.write_bytes(damaged)
        with pytest.raises(DecryptionError):
            store.get_bytes("u/j/input.wav")
        assert name
    (tmp_path / "objects/v/j").mkdir(parents=True)
    (tmp_path / "objects/v/j/input.wav").write_bytes(sealed)  # another user's path
    with pytest.raises(DecryptionError, match="fails authentication"):
        store.get_bytes("v/j/input.wav")
    with pytest.raises(DecryptionError, match="not in the keyring"):
        ObjectStore(str(tmp_path / "objects"), keyring=ring("k9")).get_bytes("v/j/input.wav")
    with pytest.raises(PermissionError, match="no keyring"):
        ObjectStore(str(tmp_path / "objects")).get_bytes("v/j/input.wav")


def test_rotation_reencrypts_old_and_plain_objects_then_the_old_key_retires(tmp_path):
    keys = ring("k1")
    ObjectStore(str(tmp_path / "objects")).put_bytes("u/legacy/input.wav", b"stored before encryption")
    store = ObjectStore(str(tmp_path / "objects"), keyring=keys)
    store.put_bytes("u/a/input.wav", b"first")
    assert store.key_usage() == {None: 1, "k1": 1}
    assert store.get_bytes("u/legacy/input.wav") == b"stored before encryption"
    assert keys.rotate() == "k2"
    store.put_bytes("u/b/input.wav", b"second")
    assert store.key_usage() == {None: 1, "k1": 1, "k2": 1}
    assert sum(store.reencrypt(k) for k in store.list()) == 2
    assert store.key_usage() == {"k2": 3} and not list((tmp_path / "objects").rglob("*.reencrypting"))
    keys.retire("k1")
    assert [store.get_bytes(k) for k in store.list()] == [b"first", b"second", b"stored before encryption"]
    with pytest.raises(ValueError, match="active key"):
        keys.retire("k2")


def test_keys_from_configuration_and_from_a_key_file(tmp_path):
    k1, k2 = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    parsed = Keyring.parse(f"new:{k2}, old:{k1}")
    assert parsed.active == "new" and set(parsed.keys) == {"new", "old"}
    for bad, reason in [
        ("", "empty"),
        ("x:abc", "base64"),
        (f"x:{base64.b64encode(b'short').decode()}", "32 bytes"),
        (f"bad id:{k1}", "key id"),
    ]:
        with pytest.raises(ValueError, match=reason):
            Keyring.parse(bad)
    path = tmp_path / "keys/keyring.json"
    with ProcessPoolExecutor(4) as pool:  # processes starting together agree on one key
        rings = list(pool.map(_load_or_create, [path] * 8))
    assert len({r.keys["k1"] for r in rings}) == 1 and path.stat().st_mode & 0o777 == 0o600
    rings[0].rotate()
    rings[0].save(path)
    assert Keyring.load(path).active == "k2" and set(Keyring.load(path).keys) == {"k1", "k2"}


def _load_or_create(path: Path) -> Keyring:
    return Keyring.load_or_create(path)


@pytest.mark.parametrize("key", ["../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "", "a\\b"])
def test_keys_cannot_escape_the_root(tmp_path, key):
    store = ObjectStore(str(tmp_path))
    with pytest.raises(ValueError, match="invalid object key"):
        store.put_bytes(key, b"x")


def test_api_job_with_s3_storage(tmp_path, s3_endpoint, s3_credentials, clean_redis):
    """Upload, processing and file download with every object in the S3-compatible server."""
    import httpx
    import numpy as np

    from audiowave.service.api import create_app

    from service_fixtures import live_server, make_services, new_user, worker_for
    from signals import tone

    services = make_services(tmp_path, clean_redis, storage_url="s3://audiowave/e2e", s3_endpoint_url=s3_endpoint)
    user, key = new_user(services, "ada")
    wav = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(wav, np.stack([tone(330, 2.0)] * 2, axis=1), 44100)
    with live_server(create_app(services)) as url, httpx.Client(base_url=url, timeout=60) as client:
        with wav.open("rb") as fh:
            job_id = client.post(
                "/v1/analyze", headers={"X-API-Key": key}, files={"file": ("a.wav", fh)}, data={"stages": "loudness"}
            ).json()["job_id"]
        worker_for(services).run_once(block_ms=0)
        job = client.get(f"/v1/analyze/{job_id}", headers={"X-API-Key": key}).json()
        assert job["status"] == "done"
        png = client.get(job["links"]["waveform.png"], headers={"X-API-Key": key})
        assert png.content[:4] == b"\x89PNG"
        s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="audiowave", Prefix=f"e2e/{user.id}/")["Contents"]]
        assert f"e2e/{user.id}/{job_id}/input.wav" in keys and len(keys) >= 3
        client.delete(f"/v1/analyze/{job_id}", headers={"X-API-Key": key})
        assert s3.list_objects_v2(Bucket="audiowave", Prefix=f"e2e/{user.id}/").get("KeyCount") == 0
