"""The checkout's own set-up (tools/system-deps.sh, which `make` runs on a fresh machine): it
installs what is missing, and a mirror that fails one package list does not stop it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .conftest import REPO

SCRIPT = REPO / "tools" / "system-deps.sh"


def fake_machine(tmp_path: Path, update_status: int) -> tuple[dict[str, str], Path]:
    """A PATH on which no package's command is found, as root, with an apt-get that records its
    calls and fails `update` with `update_status`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "sort", "tr", "grep", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    log = tmp_path / "apt.log"
    fakes = {
        "id": "echo 0",
        "sleep": "true",
        "dpkg": "echo i386",
        "apt-get": f'echo "$*" >> {log}; [ "$1" != update ] || exit {update_status}',
    }
    for name, body in fakes.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}, log


def test_missing_packages_are_installed_after_one_update(tmp_path):
    env, log = fake_machine(tmp_path, update_status=0)
    done = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert calls[0] == "update -qq" and len(calls) == 2
    assert calls[1].startswith("install -y -qq") and " valgrind" in calls[1]


def test_a_failed_package_list_update_still_installs(tmp_path):
    # A Debian mirror caught mid-sync ("File has unexpected size ... Mirror sync in progress?")
    # made apt-get update exit 100 on a fresh machine, and `make run` stopped there, though every
    # package came from the lists it did fetch.
    env, log = fake_machine(tmp_path, update_status=100)
    done = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert [call.split()[0] for call in log.read_text().splitlines()] == [
        "update",
        "update",
        "install",
    ]
    assert "apt-get update failed; installing from the package lists it has" in done.stderr


def test_a_failed_install_stops_the_set_up(tmp_path):
    env, log = fake_machine(tmp_path, update_status=0)
    failing_install = f'#!/bin/sh\necho "$*" >> {log}\n[ "$1" = update ]\n'
    (Path(env["PATH"]) / "apt-get").write_text(failing_install)
    done = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert log.read_text().splitlines()[-1].startswith("install")
