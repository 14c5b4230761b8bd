"""Object storage: local directory and S3 against a real S3-compatible server (moto) on loopback."""

from __future__ import annotations

import boto3
import pytest
from moto.server import ThreadedMotoServer

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


@pytest.fixture
def s3_credentials(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


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


def test_local_store(tmp_path):
    exercise(ObjectStore(str(tmp_path / "objects")), tmp_path)


def test_s3_store_against_moto_server(tmp_path, s3_endpoint, s3_credentials):
    exercise(ObjectStore("s3://audiowave/prefix", s3_endpoint_url=s3_endpoint), tmp_path)


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
