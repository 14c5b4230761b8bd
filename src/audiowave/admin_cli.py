"""Operator commands on the service's data (``audiowave users|keys|contributions``), run where the service's
configuration (``AUDIOWAVE_*``) points at its database, storage and keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

users_app = typer.Typer(help="Manage service users: create, export, erase.")
keys_app = typer.Typer(help="Encryption-at-rest keys: status, rotate, re-encrypt, retire.")
contributions_app = typer.Typer(help="Uploads of users who opted in to contribute to shared libraries.")
out = Console()
err = Console(stderr=True)


def _services():
    from audiowave.service.services import Services
    from audiowave.service.settings import ServiceSettings

    try:
        return Services.from_settings(ServiceSettings())
    except ValueError as exc:  # bad key configuration
        _exit(str(exc))


def _exit(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _user_id(services, name: str) -> str:
    from sqlalchemy import select

    from audiowave.service.db import User

    with services.sessions() as session:
        user_id = session.scalar(select(User.id).where(User.name == name))
    if user_id is None:
        _exit(f"no user named {name!r}")
    return user_id


@users_app.command("create")
def users_create(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Create a user and print its API key (shown once)."""
    from audiowave.service.auth import create_user

    try:
        with _services().sessions.begin() as session:
            _, key = create_user(session, name)
    except ValueError as exc:
        _exit(str(exc))
    out.print(key)


@users_app.command("export")
def users_export(
    name: Annotated[str, typer.Argument(help="User name.")],
    dest: Annotated[Path, typer.Option("--out", "-o", help="Zip file to write.")] = Path("export.zip"),
) -> None:
    """Write everything stored for a user (account, jobs, results, feedback, files decrypted) to one zip."""
    from audiowave.service.privacy import export_user

    services = _services()
    export_user(services, _user_id(services, name), dest)
    out.print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB)")


@users_app.command("erase")
def users_erase(
    name: Annotated[str, typer.Argument(help="User name.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do it (erasure cannot be undone).")] = False,
) -> None:
    """Erase a user and every artefact stored for it (GDPR erasure), verified by listing storage."""
    from audiowave.service.privacy import erase_user

    services = _services()
    user_id = _user_id(services, name)
    if not yes:
        _exit(f"erasing {name!r} cannot be undone: add --yes")
    done = erase_user(services, user_id)
    out.print(f"erased {name}: {done.jobs} jobs, {done.objects_removed} objects; {done.objects_left} left in storage")
    if done.objects_left:
        raise typer.Exit(1)


@keys_app.command("status")
def keys_status() -> None:
    """Which key seals how many stored objects."""
    services = _services()
    ring = services.store.keyring
    if ring is None:
        _exit("encryption at rest is off (AUDIOWAVE_ENCRYPT_AT_REST=false)")
    usage = services.store.key_usage()
    table = Table("key", "active", "objects")
    for kid in sorted(set(ring.keys) | {k for k in usage if k}):
        table.add_row(
            kid,
            "yes" if kid == ring.active else "",
            str(usage.get(kid, 0)) + ("" if kid in ring.keys else " (key missing!)"),
        )
    if usage.get(None):
        table.add_row("(unencrypted)", "", str(usage[None]))
    out.print(table)


def _keyring_file(services):
    if services.settings.encryption_keys:
        _exit("keys come from AUDIOWAVE_ENCRYPTION_KEYS: put a new key first there, restart, then re-encrypt")
    if services.store.keyring is None:
        _exit("encryption at rest is off (AUDIOWAVE_ENCRYPT_AT_REST=false)")
    return services.settings.resolved_keyring_file()


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Add a new key and make it active (running services pick it up from the key file)."""
    services = _services()
    path = _keyring_file(services)
    ring = services.store.keyring
    kid = ring.rotate()
    ring.save(path)
    out.print(f"active key is now {kid}; run `audiowave keys reencrypt` to move stored objects onto it")


@keys_app.command("reencrypt")
def keys_reencrypt() -> None:
    """Seal every stored object with the active key (old-key and unencrypted objects are rewritten)."""
    services = _services()
    if services.store.keyring is None:
        _exit("encryption at rest is off (AUDIOWAVE_ENCRYPT_AT_REST=false)")
    keys = services.store.list()
    rewritten = 0
    with Progress(console=err) as bars:
        task = bars.add_task("re-encrypting", total=len(keys))
        for key in keys:
            rewritten += services.store.reencrypt(key)
            bars.advance(task)
    out.print(f"{rewritten} of {len(keys)} objects re-encrypted with {services.store.keyring.active}")


@keys_app.command("retire")
def keys_retire(kid: Annotated[str, typer.Argument(help="Key id to remove from the key file.")]) -> None:
    """Remove an old key, refusing while any stored object still needs it."""
    services = _services()
    path = _keyring_file(services)
    still = services.store.key_usage().get(kid, 0)
    if still:
        _exit(f"{still} objects are still sealed with {kid}: run `audiowave keys reencrypt` first")
    ring = services.store.keyring
    try:
        ring.retire(kid)
    except ValueError as exc:
        _exit(str(exc))
    ring.save(path)
    out.print(f"retired {kid}")


@contributions_app.command("collect")
def contributions_collect(
    out_dir: Annotated[Path, typer.Argument(help="Folder to copy contributed uploads into (then `audiowave index`).")],
) -> None:
    """Copy the uploads of users who opted in (made since they did), decrypted, for a shared library."""
    from audiowave.service.privacy import collect_contributions

    copied = collect_contributions(_services(), out_dir)
    out.print(f"{len(copied)} contributed uploads in {out_dir}")
