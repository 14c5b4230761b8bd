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
