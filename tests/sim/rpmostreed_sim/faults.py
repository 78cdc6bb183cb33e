"""
Fault knobs, kept in <state-dir>/faults.json and re-read at every decision, so the harness can change
them at run time (by writing the file, or with the control interface's SetFaults). Counted knobs are
decremented and written back when they fire, so a restarted daemon does not repeat a fault.
Documented in docs/simulator.md.
"""
import json
import os

from .sysroot import write_json_atomic

DEFAULTS = {
    # staging transactions (Deploy/UpdateDeployment/Rebase naming a revision) end Finished(false, failureMessage)
    "deployFailures": 0,
    "failureMessage": "Failed to pull: Server returned HTTP 503 (simulated)",
    # any transaction by method name: {"FinalizeDeployment": {"count": 1, "message": "..."}}
    "failTransactions": {},
    # the method call itself fails: {"RegisterClient": {"count": 1, "name": "org.freedesktop.DBus.Error.NoReply",
    #                                                    "message": "..."}}
    "callErrors": {},
    # the next N transactions never finish (Cancel still ends them)
    "hangTransactions": 0,
    # the next N transactions: the daemon process exits after the first progress signal
    "exitMidTransaction": 0,
    # download progress: K DownloadProgress+PercentProgress pairs, D ms apart
    "progressSignals": 3,
    "progressIntervalMs": 0,
    # the next N staged deployments come out wrong (for the agent's verification)
    "stageWrongVersion": 0,
    "stageWrongPayload": 0,
    "stageUnlocked": 0,
}


class Faults:
    def __init__(self, state_dir):
        self.path = os.path.join(state_dir, "faults.json")

    def all(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                stored = json.load(f)
        except FileNotFoundError:
            stored = {}
        return {**DEFAULTS, **stored}

    def get(self, name):
        return self.all()[name]

    def update(self, changes):
        """Merges changes into the file; a null value puts the default back."""
        try:
            with open(self.path, encoding="utf-8") as f:
                stored = json.load(f)
        except FileNotFoundError:
            stored = {}
        for key, value in changes.items():
            if key not in DEFAULTS:
                raise ValueError(f"unknown fault knob {key!r} (known: {', '.join(sorted(DEFAULTS))})")
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = value
        write_json_atomic(self.path, stored)

    def consume(self, name):
        """True (and one fewer left) when a counted knob is armed."""
        left = int(self.get(name) or 0)
        if left <= 0:
            return False
        self.update({name: left - 1})
        return True

    def consume_keyed(self, name, key):
        """For per-method knobs ({method: {count, ...}}): the entry when armed, else None."""
        table = dict(self.get(name) or {})
        entry = table.get(key)
        if not entry or int(entry.get("count", 1)) <= 0:
            return None
        left = int(entry.get("count", 1)) - 1
        if left > 0:
            table[key] = {**entry, "count": left}
        else:
            table.pop(key)
        self.update({name: table})
        return entry
