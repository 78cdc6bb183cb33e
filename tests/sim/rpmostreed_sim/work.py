"""
The bodies of the simulated transactions: generators that emit progress on the transaction, yield
waits (ms), and change the sysroot at the end. They read the fault knobs when they start.
"""
import os
import sys
import time

from . import model
from .model import TransactionFailed
from .transaction import HANG


def _fault_prelude(txn, faults, method):
    """Faults that apply to any transaction: exit mid-way, hang, or finish with a configured failure."""
    if faults.consume("exitMidTransaction"):
        txn.message(f"{method}: starting")
        txn.percent("Working", 1)
        yield 50  # let the first signals reach the client before the process dies
        print(f"rpmostreed-sim: exiting in the middle of {method} (exitMidTransaction)", file=sys.stderr, flush=True)
        os._exit(17)
    if faults.consume("hangTransactions"):
        txn.message(f"{method}: waiting (hangTransactions)")
        yield HANG
    failure = faults.consume_keyed("failTransactions", method)
    if failure:
        raise TransactionFailed(failure.get("message", f"{method} failed (simulated)"))


def _download(txn, faults, what):
    count = max(0, int(faults.get("progressSignals")))
    interval = max(0, int(faults.get("progressIntervalMs")))
    requested = 300
    start = int(time.time())
    txn.message(f"Pulling manifest: {what}")
    txn.task("Scanning metadata")
    for step in range(1, count + 1):
        fetched = requested * step // count
        txn.download(start=start, elapsed=step, fetched=fetched, requested=requested,
                     transferred=fetched * 1_048_576, rate=1_048_576)
        txn.percent(f"Receiving objects: {fetched}/{requested}", 100 * step // count)
        yield interval
    txn.progress_end()


def deploy(sysroot, faults, *, revision, options, refspec=None):
    """Deploy / UpdateDeployment / Rebase: resolve, download, stage (or only register the driver)."""

    def body(txn):
        method = txn.method
        yield from _fault_prelude(txn, faults, method)
        driver = options.get("register-driver")
        if driver:
            sysroot.register_driver(driver, options.get("_caller-unit", "update-agent.service"))
            txn.message(f"Registered update driver {driver}")
        if not revision and refspec is None:
            return
        if faults.consume("deployFailures"):
            yield from _download(txn, faults, revision)
            raise TransactionFailed(faults.get("failureMessage"))
        release = model.resolve_revision(sysroot.releases(), sysroot.booted(), revision, refspec)
        sysroot.check_downgrade(release, options.get("allow-downgrade", True))
        yield from _download(txn, faults, release["payload"])
        wrong = "version" if faults.consume("stageWrongVersion") else (
            "payload" if faults.consume("stageWrongPayload") else None)
        lock = bool(options.get("lock-finalization", False)) and not faults.consume("stageUnlocked")
        txn.task("Staging deployment")
        if sysroot.stage(release, lock=lock, image_reference=refspec, wrong=wrong):
            txn.message("Staging deployment...done")
        else:
            txn.message("No change.")

    return body


def finalize(sysroot, faults, *, options, request_reboot):
    def body(txn):
        yield from _fault_prelude(txn, faults, txn.method)
        staged = sysroot.finalize(options)
        txn.message(f"Finalized deployment; rebooting into {staged['checksum']}")
        request_reboot()

    return body


def cleanup(sysroot, faults, *, elements):
    def body(txn):
        yield from _fault_prelude(txn, faults, txn.method)
        changed = sysroot.cleanup(elements)
        txn.message("Deployments unchanged." if not changed else "Deployments cleaned up.")

    return body


def rollback(sysroot, faults, *, options, request_reboot):
    def body(txn):
        yield from _fault_prelude(txn, faults, txn.method)
        target = sysroot.rollback()
        txn.message(f"Moving '{target['checksum']}.{target['serial']}' to be first deployment")
        if options.get("reboot"):
            sysroot.record_reboot("rollback", target)
            request_reboot()

    return body


def foreign(duration_ms):
    """Another client's transaction: it only takes time."""

    def body(txn):
        txn.message("Another client's transaction (simulated)")
        yield duration_ms

    return body
