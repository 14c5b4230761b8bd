"""Users' data at rest and their rights over it, over real HTTP with the SDK: encryption, export, erasure,
opt-in contribution (SQLite and PostgreSQL, real Redis, real storage)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from cli_runner import cli

from audiowave.client import ApiError, Client
from audiowave.service.jobs import JobService
from audiowave.service.privacy import collect_contributions

from service_fixtures import make_services, new_user, worker_for
from signals import EXAMPLE


@pytest.fixture
def two_users(api):
    services, http = api
    ada, ada_key = new_user(services, "ada")
    bob, bob_key = new_user(services, "bob")
    url = str(http.base_url)
    with Client(url, ada_key) as ada_c, Client(url, bob_key) as bob_c:
        yield services, (ada, ada_c), (bob, bob_c)


def analysed(services, client: Client, data: bytes, name: str = "take.flac") -> str:
    job = client.analyze((name, data), stages="loudness")
    assert worker_for(services).run_once(block_ms=0) == job.job_id
    assert client.job(job.job_id).status == "done"
    return job.job_id


def test_uploads_and_derived_files_are_encrypted_at_rest(two_users):
    services, (ada, client), _ = two_users
    job_id = analysed(services, client, EXAMPLE.read_bytes())
    keys = services.store.list(f"{ada.id}/{job_id}")
    assert len(keys) >= 3 and services.store.key_usage(ada.id) == {"k1": len(keys)}
    root = services.store.root
    for key in keys:
        raw = Path(f"{root}/{key}").read_bytes()
        assert raw[:4] == b"AWE1" and b"fLaC" not in raw[:64] and b"PNG" not in raw[:64]
    view = client.job(job_id)
    assert client.download(view.links["waveform.png"])[:4] == b"\x89PNG"  # served decrypted to its owner


def test_export_holds_every_job_result_feedback_and_file_decrypted(two_users):
    services, (_, client), (_, bob) = two_users
    job_id = analysed(services, client, EXAMPLE.read_bytes())
    client.feedback(job_id, "tempo", "wrong", {"bpm": 120})
    analysed(services, bob, EXAMPLE.read_bytes())
    path = client.export_data(services.settings.home / "ada.zip")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        account = json.loads(archive.read("account.json"))
        record = json.loads(archive.read(f"jobs/{job_id}/job.json"))
        notes = json.loads(archive.read(f"jobs/{job_id}/feedback.json"))
        upload = archive.read(f"jobs/{job_id}/files/input.flac")
        waveform = archive.read(f"jobs/{job_id}/files/out/waveform.png")
    assert account["name"] == "ada" and account["jobs"] == 1 and not account["contribute_to_library"]
    assert record["status"] == "done" and record["result"]["loudness"]["integrated_lufs"] < 0
    assert notes == [{**notes[0], "field": "tempo", "verdict": "wrong", "value": {"bpm": 120}}]
    assert upload == EXAMPLE.read_bytes() and waveform[:4] == b"\x89PNG"
    assert not any(n.startswith("jobs/") and job_id not in n for n in names)  # nothing of bob's


def test_erasure_removes_every_artefact_of_that_user_only(two_users):
    services, (ada, client), (bob, bob_client) = two_users
    for _ in range(2):
        analysed(services, client, EXAMPLE.read_bytes())
    bob_job = analysed(services, bob_client, EXAMPLE.read_bytes())
    stored = len(services.store.list(ada.id))
    with pytest.raises(ApiError) as refused:
        client.erase_account(confirm="bob")
    assert refused.value.status == 422 and "confirm" in str(refused.value)
    done = client.erase_account(confirm="ada")
    assert (done.jobs, done.objects_removed, done.objects_left) == (2, stored, 0)
    assert services.store.list(ada.id) == []  # verified by listing storage
    with pytest.raises(ApiError) as gone:
        client.jobs()
    assert gone.value.status == 401  # the key went with the account
    assert bob_client.job(bob_job).status == "done" and services.store.list(bob.id)


def test_only_opted_in_uploads_made_since_consent_reach_a_shared_library(two_users, tmp_path):
    services, (_, client), (_, bob) = two_users
    before = analysed(services, client, EXAMPLE.read_bytes())
    assert client.set_consent(True).contribute_to_library
    after = analysed(services, client, EXAMPLE.read_bytes())
    analysed(services, bob, EXAMPLE.read_bytes())  # bob never opted in
    copied = collect_contributions(services, tmp_path / "contrib")
    assert [p.name for p in copied] == [f"{after}.flac"] and copied[0].read_bytes() == EXAMPLE.read_bytes()
    assert before not in {p.stem for p in copied}
    assert not client.set_consent(False).contribute_to_library
    assert collect_contributions(services, tmp_path / "again") == []


def test_erasure_of_a_job_still_queued_leaves_the_worker_nothing_to_run(two_users):
    services, (ada, client), _ = two_users
    queued = client.analyze(("take.flac", EXAMPLE.read_bytes()), stages="loudness")
    client.erase_account(confirm="ada")
    assert worker_for(services).run_once(block_ms=0) == queued.job_id  # claimed, found gone, acknowledged
    assert services.queue.stats()["depth"] == 0 and services.store.list(ada.id) == []


def test_account_view_lists_keys_by_prefix_only(two_users):
    _, (_, client), _ = two_users
    account = client.account()
    assert account.name == "ada" and len(account.keys) == 1 and account.keys[0].prefix.startswith("aw_")
    assert len(account.keys[0].prefix) < 12 and not account.contribute_to_library


def test_operator_rotates_keys_and_exports_and_erases_a_user_from_the_cli(tmp_path, clean_redis):
    services = make_services(tmp_path, clean_redis)
    ada, _ = new_user(services, "ada")
    job = JobService(services).submit(ada, "take.flac", EXAMPLE, ["loudness"], "normal")
    assert worker_for(services).run_once(block_ms=0) == job.id
    env = {
        "AUDIOWAVE_DATABASE_URL": services.settings.database_url,
        "AUDIOWAVE_STORAGE_URL": services.settings.storage_url,
    }
    stored = services.store.list()
    assert "k1" in cli("keys", "status", env=env).stdout

    rotated = cli("keys", "rotate", env=env)
    assert rotated.returncode == 0 and "k2" in rotated.stdout
    services.store.put_bytes(f"{ada.id}/{job.id}/out/late.txt", b"written by a running service after rotation")
    assert services.store.key_id(f"{ada.id}/{job.id}/out/late.txt") == "k2"  # it re-read the key file
    refused = cli("keys", "retire", "k1", env=env)
    assert refused.returncode == 2 and f"{len(stored)} objects are still sealed with k1" in refused.stderr
    assert (
        f"{len(stored)} of {len(stored) + 1} objects re-encrypted with k2" in cli("keys", "reencrypt", env=env).stdout
    )
    assert cli("keys", "retire", "k1", env=env).returncode == 0
    assert services.store.get_bytes(job.input_key) == EXAMPLE.read_bytes()

    export = cli("users", "export", "ada", "--out", str(tmp_path / "ada.zip"), env=env)
    assert export.returncode == 0, export.stderr
    with zipfile.ZipFile(tmp_path / "ada.zip") as archive:
        assert archive.read(f"jobs/{job.id}/files/input.flac") == EXAMPLE.read_bytes()
    assert cli("users", "erase", "ada", env=env).returncode == 2  # needs --yes
    erased = cli("users", "erase", "ada", "--yes", env=env)
    assert erased.returncode == 0 and "0 left in storage" in erased.stdout
    assert services.store.list(ada.id) == [] and cli("users", "erase", "ada", "--yes", env=env).returncode == 2
