"""
The simulated sysroot: deployments in boot order plus what rpm-ostree keeps in /run, persisted as
JSON in the state directory so a daemon restart keeps them (a reboot is `boot_pending`).

Files in the state directory:
  state.json      {osname, deployments: [record...], driver, rebootRequests: [...], boots: [...]}
  releases.json   the remote: [{version, payload, stream, checksum?, timestamp?}], oldest first
  faults.json     fault knobs (see faults.py); read at every decision, so edits apply at once
  init.json       written by the harness; turned into state.json on the first start
  calls.jsonl     one line per method call: {at, interface, method, args, caller, path}
"""
import json
import os
import time

from . import model
from .model import TransactionFailed


def _read_json(path, default):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return default


def write_json_atomic(path, value):
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
    os.replace(tmp, path)


class Sysroot:
    def __init__(self, state_dir):
        self.dir = state_dir
        self.state_path = os.path.join(state_dir, "state.json")
        if not os.path.exists(self.state_path):
            self._init_from(os.path.join(state_dir, "init.json"))
        self.state = _read_json(self.state_path, None)

    def _init_from(self, init_path):
        init = _read_json(init_path, None)
        if init is None:
            raise SystemExit(f"rpmostreed-sim: {self.state_path} and {init_path} are both missing")
        releases = self.releases()
        booted = model.new_record(init["booted"], releases)
        booted["booted"] = True
        deployments = [booted]
        if init.get("rollback"):
            deployments.append(model.new_record(init["rollback"], releases))
        state = {"osname": init.get("osname", "fedora-coreos"), "deployments": deployments, "driver": None,
                 "rebootRequests": [], "boots": []}
        write_json_atomic(self.state_path, state)

    # --- reading -------------------------------------------------------------------------------

    @property
    def osname(self):
        return self.state["osname"]

    @property
    def deployments(self):
        return self.state["deployments"]

    def releases(self):
        return _read_json(os.path.join(self.dir, "releases.json"), [])

    def booted(self):
        return next(d for d in self.deployments if d["booted"])

    def staged(self):
        return next((d for d in self.deployments if d["staged"]), None)

    def rollback_target(self):
        order = self.deployments
        index = order.index(self.booted())
        return order[index + 1] if index + 1 < len(order) else None

    def save(self):
        write_json_atomic(self.state_path, self.state)

    # --- transactions' effects -----------------------------------------------------------------

    def check_downgrade(self, release, allow_downgrade):
        if allow_downgrade:
            return
        booted = self.booted()
        target_time = model.release_timestamp(self.releases(), release)
        if target_time < booted["timestamp"]:
            raise TransactionFailed(
                f"Upgrade target revision '{model.commit_of(release)}' with timestamp '{target_time}' is "
                f"chronologically older than current revision '{booted['checksum']}' with timestamp "
                f"'{booted['timestamp']}'; use --allow-downgrade to permit")

    def stage(self, release, *, lock, image_reference=None, wrong=None):
        """Writes a staged deployment at index 0. Returns False when nothing changes ("No change.")."""
        booted = self.booted()
        scheme = "oci" if booted["scheme"] == "oci" else "checksum"
        spec = dict(release)
        if scheme == "oci":
            spec["imageReference"] = image_reference or booted["imageReference"]
        record = model.new_record(spec, self.releases(), scheme=scheme)
        if wrong == "version":
            record["version"] = record["version"] + ".wrong"
        elif wrong == "payload":
            record["checksum"] = model.commit_of({"payload": record["payload"] + "#wrong"})
            if scheme == "oci":
                record["digest"] = "sha256:" + record["checksum"]
            else:
                record["payload"] = record["checksum"]
        current = self.staged()
        if current and current["checksum"] == record["checksum"] and current["locked"] == lock \
                and current.get("imageReference") == record.get("imageReference"):
            return False
        if not current and booted["checksum"] == record["checksum"] \
                and booted.get("imageReference") == record.get("imageReference"):
            return False
        record["staged"] = True
        record["locked"] = lock
        record["serial"] = sum(1 for d in self.deployments if d["checksum"] == record["checksum"] and not d["staged"])
        self.state["deployments"] = [record] + [d for d in self.deployments if not d["staged"]]
        self.save()
        return True

    def cleanup(self, elements):
        """`pending-deploy` drops what sits before the booted deployment, `rollback-deploy` what follows it."""
        order = self.deployments
        booted = self.booted()
        booted_index = order.index(booted)
        keep = []
        for i, d in enumerate(order):
            if i < booted_index and "pending-deploy" in elements and not d["pinned"]:
                continue
            if i > booted_index and "rollback-deploy" in elements and not d["pinned"]:
                continue
            keep.append(d)
        changed = len(keep) != len(order)
        self.state["deployments"] = keep
        self.save()
        return changed

    def rollback(self):
        if self.staged():
            raise TransactionFailed("Staged deployment (remove with cleanup -p)")
        order = self.deployments
        booted = self.booted()
        booted_index = order.index(booted)
        if booted_index > 0:
            # a non-staged pending deployment sits before the booted one: undo it
            target = booted
        else:
            target = self.rollback_target()
            if target is None:
                raise TransactionFailed("No rollback deployment found")
        self.state["deployments"] = [target] + [d for d in order if d is not target]
        self.save()
        return target

    def finalize(self, options):
        staged = self.staged()
        if not self.deployments:
            raise TransactionFailed("No deployments found")
        if staged is None:
            raise TransactionFailed("No pending staged deployment found")
        expected = options.get("checksum")
        if expected is None and not options.get("allow-missing-checksum"):
            raise TransactionFailed("Missing expected checksum")
        if expected is not None and expected != model.base_revision(staged):
            raise TransactionFailed(f"Expected staged base checksum {expected}, but found {model.base_revision(staged)}")
        if not staged["locked"] and not options.get("allow-unlocked"):
            raise TransactionFailed("Staged deployment already unlocked")
        staged["locked"] = False
        self.record_reboot("finalize", staged)
        return staged

    def record_reboot(self, reason, record):
        self.state["rebootRequests"].append(
            {"at": time.time(), "reason": reason, "checksum": record["checksum"], "version": record["version"],
             "baseRevision": model.base_revision(record)})
        self.save()

    def register_driver(self, name, unit):
        self.state["driver"] = {"driver-name": name, "driver-sd-unit": unit}
        self.save()

    def note_boot(self, boot_id):
        """
        A kernel boot id other than the one recorded at the last start means the machine really rebooted
        (the e2e box runs `systemctl reboot`): apply what that reboot applied. Daemon restarts within one
        boot change nothing.
        """
        previous = self.state.get("bootId")
        booted = self.boot_pending() if previous is not None and previous != boot_id else None
        self.state["bootId"] = boot_id
        self.save()
        return booted

    def boot_pending(self, fallback=False):
        """
        What a reboot does: an unlocked staged deployment is applied; a finalization-locked one is
        thrown away (ostree-finalize-staged refuses it); otherwise the first deployment in boot order
        boots (so a Rollback takes effect). /run is a tmpfs: the driver registration is gone.

        `fallback`: the new default deployment is written (first in boot order) but fails to boot, and the
        bootloader falls back to the deployment booted before (GRUB's boot counter, as greenboot sets it up).
        The boot order is not changed by that: the failed deployment stays first, so the next plain reboot
        tries it again unless someone (greenboot's `rpm-ostree rollback`, the agent) reorders it.
        """
        order = self.deployments
        staged = self.staged()
        previous = self.booted()
        if staged and staged["locked"]:
            order = [d for d in order if d is not staged]
            staged = None
        new_default = staged or order[0]
        if fallback and new_default is not previous:
            pinned = [d for d in order if d["pinned"] and d is not new_default and d is not previous]
            kept = [new_default, previous] + pinned
            new_booted = previous
        else:
            new_booted = new_default
            rest = [d for d in order if d is not new_booted]
            rollback = previous if previous is not new_booted else (rest[0] if rest else None)
            kept = [new_booted] + ([rollback] if rollback else []) + [d for d in rest if d["pinned"] and d is not rollback]
        for d in kept:
            d["booted"] = d is new_booted
            d["staged"] = False
            d["locked"] = False
        self.state["deployments"] = kept
        self.state["driver"] = None
        self.state["boots"].append({"at": time.time(), "version": new_booted["version"], "checksum": new_booted["checksum"]})
        self.save()
        return new_booted
