"""
Pure deployment model of the simulated rpm-ostreed: deployment records, the "remote" (available
releases), revision resolution and the deployment dictionaries rpm-ostree puts on the bus.
No D-Bus and no files here, so every rule can be read (and reasoned about) on its own.

A deployment record (what state.json keeps, in boot order):
  scheme        "checksum" | "oci"
  version, stream, payload      payload as the update graph names it (checksum or name@sha256:digest)
  checksum      the ostree commit
  timestamp     commit time, Unix seconds
  serial, booted, staged, locked (finalization-locked), pinned
  origin        checksum scheme: "fedora:fedora/x86_64/coreos/<stream>"
  imageReference, digest        oci scheme: "ostree-image-signed:docker://name:tag", "sha256:..."
"""
import hashlib
import json
import re

HEX64 = re.compile(r"^[0-9a-f]{64}$")
BASE_RELEASE_TIME = 1_700_000_000
DAY = 86_400


class TransactionFailed(Exception):
    """A transaction ends with Finished(false, message)."""


class MethodError(Exception):
    """A method call is refused before any transaction exists (name, message)."""

    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"


def split_pullspec(payload):
    """`quay.io/fedora/fedora-coreos@sha256:abc` -> ("quay.io/fedora/fedora-coreos", "sha256:abc")."""
    name, sep, digest = payload.partition("@")
    if not sep or not digest.startswith("sha256:"):
        return None, None
    return name, digest


SIGVERIFY_PREFIXES = ("ostree-image-signed:", "ostree-unverified-image:", "ostree-remote-image:",
                      "ostree-unverified-registry:", "ostree-remote-registry:")
TRANSPORTS = ("docker://", "registry:", "oci:", "oci-archive:", "containers-storage:", "dir:", "docker-archive:")


def split_image_reference(reference):
    """`ostree-image-signed:docker://quay.io/x/y:tag` -> ("ostree-image-signed:docker://", "quay.io/x/y", "tag")."""
    head, rest, bare_registry = "", reference, False
    for prefix in SIGVERIFY_PREFIXES:
        if rest.startswith(prefix):
            head, rest = prefix, rest[len(prefix):]
            bare_registry = prefix.endswith("-registry:")  # these forms carry no transport
            if prefix.startswith("ostree-remote-"):  # the ostree remote holding the signing keys
                remote, _, rest = rest.partition(":")
                head += remote + ":"
            break
    if not bare_registry:
        for transport in TRANSPORTS:
            if rest.startswith(transport):
                head, rest = head + transport, rest[len(transport):]
                break
    rest = rest.split("@", 1)[0]
    name, tag = rest, None
    if ":" in rest.rsplit("/", 1)[-1]:
        name, tag = rest.rsplit(":", 1)
    return head, name, tag


def release_timestamp(releases, release):
    if release.get("timestamp") is not None:
        return int(release["timestamp"])
    return BASE_RELEASE_TIME + releases.index(release) * DAY


def commit_of(release):
    if release.get("checksum"):
        return release["checksum"]
    if HEX64.match(release["payload"]):
        return release["payload"]
    return hashlib.sha256(release["payload"].encode()).hexdigest()


def new_record(spec, releases, *, scheme=None):
    """A deployment record from a harness spec {version, payload, stream, scheme, imageReference?}."""
    scheme = scheme or spec.get("scheme") or ("checksum" if HEX64.match(spec["payload"]) else "oci")
    known = next((r for r in releases if r["payload"] == spec["payload"]), None)
    timestamp = spec.get("timestamp")
    if timestamp is None:
        timestamp = release_timestamp(releases, known) if known else BASE_RELEASE_TIME - DAY
    record = {
        "scheme": scheme,
        "version": spec["version"],
        "stream": spec.get("stream"),
        "payload": spec["payload"],
        "checksum": spec.get("checksum") or commit_of(spec),
        "timestamp": int(timestamp),
        "serial": 0,
        "booted": False,
        "staged": False,
        "locked": False,
        "pinned": False,
    }
    if scheme == "oci":
        name, digest = split_pullspec(spec["payload"])
        if name is None:
            raise ValueError(f"OCI payload must look like registry/repo@sha256:digest, got {spec['payload']!r}")
        tag = spec.get("stream") or "latest"
        record["imageReference"] = spec.get("imageReference") or f"ostree-image-signed:docker://{name}:{tag}"
        record["digest"] = digest
    else:
        record["origin"] = spec.get("origin") or f"fedora:fedora/x86_64/coreos/{spec.get('stream') or 'stable'}"
    return record


def base_revision(record):
    """What FinalizeDeployment{checksum} must name: the image digest for OCI origins, else the commit."""
    return record["digest"] if record["scheme"] == "oci" else record["checksum"]


def resolve_revision(releases, booted, revision, refspec=None):
    """
    The release a Deploy/UpdateDeployment revision names, following rpm-ostree's parse rules:
    `revision=<sha>`, bare 64-hex (checksum), `version=<v>` or any other text (version), and for
    container origins `sha256:<digest>` verbatim. Unknown revisions fail like a failed pull.
    """
    container = refspec if refspec is not None else booted.get("imageReference")
    if container:
        if not revision.startswith("sha256:"):
            raise TransactionFailed(f"Container origins take an image digest (sha256:...), not {revision!r}")
        _, name, _ = split_image_reference(container)
        for release in releases:
            if split_pullspec(release["payload"]) == (name, revision):
                return release
        raise TransactionFailed(f"Fetching manifest {name}@{revision}: manifest unknown")
    if revision.startswith("revision="):
        checksum = revision[len("revision="):]
    elif HEX64.match(revision):
        checksum = revision
    else:
        version = revision[len("version="):] if revision.startswith("version=") else revision
        for release in releases:
            if release["version"] == version and HEX64.match(release["payload"]):
                return release
        raise TransactionFailed(f"Could not find version '{version}' in ref '{booted.get('origin', '')}'")
    for release in releases:
        if commit_of(release) == checksum:
            return release
    raise TransactionFailed(f"No such metadata object {checksum}.commit")


def reference_digest_payload(record):
    return f"{split_image_reference(record['imageReference'])[1]}@{record['digest']}"


# --- deployment dictionaries (typed for GVariant: {key: (signature, value)}) -------------------

def deployment_dict(record, osname):
    """The a{sv} rpm-ostree publishes for one deployment, shaped like tests/fixtures/rpm-ostree/*.json."""
    d = {
        "id": ("s", f"{osname}-{record['checksum']}.{record['serial']}"),
        "osname": ("s", osname),
        "serial": ("i", record["serial"]),
        "checksum": ("s", record["checksum"]),
        "version": ("s", record["version"]),
        "timestamp": ("t", record["timestamp"]),
        "booted": ("b", record["booted"]),
        "staged": ("b", record["staged"]),
        "pinned": ("b", record["pinned"]),
        "unlocked": ("s", "none"),
        "regenerate-initramfs": ("b", False),
        "packages": ("as", []),
        "requested-packages": ("as", []),
        "requested-local-packages": ("as", []),
        "base-removals": ("as", []),
        "requested-base-removals": ("as", []),
        "base-local-replacements": ("as", []),
        "requested-base-local-replacements": ("as", []),
    }
    if record["staged"]:
        d["finalization-locked"] = ("b", record["locked"])
    if record["scheme"] == "oci":
        d["container-image-reference"] = ("s", record["imageReference"])
        d["container-image-reference-digest"] = ("s", record["digest"])
        d["base-remote-replacements"] = ("a{sv}", {})
        d["requested-local-fileoverride-packages"] = ("as", [])
        d["base-commit-meta"] = ("a{sv}", _oci_commit_meta(record))
    else:
        d["origin"] = ("s", record["origin"])
        d["gpg-enabled"] = ("b", True)
        meta = {"version": ("s", record["version"]), "coreos-assembler.basearch": ("s", "x86_64")}
        if record.get("stream"):
            meta["fedora-coreos.stream"] = ("s", record["stream"])
        d["base-commit-meta"] = ("a{sv}", meta)
    return d


def _oci_commit_meta(record):
    annotations = {"containers.bootc": "1", "ostree.commit": record["checksum"]}
    labels = {
        "containers.bootc": "1",
        "ostree.bootable": "1",
        "ostree.commit": record["checksum"],
        "org.opencontainers.image.version": record["version"],
    }
    if record.get("stream"):
        annotations["fedora-coreos.stream"] = record["stream"]
        labels["fedora-coreos.stream"] = record["stream"]
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "annotations": annotations}
    config = {"architecture": "amd64", "config": {"Labels": labels}}
    return {
        "ostree.manifest-digest": ("s", record["digest"]),
        "ostree.manifest": ("s", json.dumps(manifest)),
        "ostree.container.image-config": ("s", json.dumps(config)),
        "ostree.importer.version": ("s", "0.15.3"),
    }


def plain_dict(typed):
    return {k: (plain_dict(v) if sig == "a{sv}" else v) for k, (sig, v) in typed.items()}
