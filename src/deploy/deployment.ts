/**
 * A deployment as the agent sees it, parsed from rpm-ostree's deployment dictionary
 * (`rpm-ostree status --json` `deployments[]`, or the D-Bus `Deployments` aa{sv}: same keys).
 */
export type PayloadScheme = "checksum" | "oci";

export interface Deployment {
  /** `<osname>-<checksum>.<serial>` */
  id: string;
  osname: string;
  /** The deployment's own commit (the layered one if packages are layered). */
  checksum: string;
  /** What `FinalizeDeployment({checksum})` expects: the image digest for OCI origins, else base-checksum, else checksum. */
  baseRevision: string;
  version: string;
  /** How the update graph names this release: the OSTree checksum, or `registry/repo@sha256:…` for OCI. */
  payload: string;
  scheme: PayloadScheme;
  /** `com.coreos.stream` label, `fedora-coreos.stream` annotation or legacy commit key; undefined when none. */
  stream: string | undefined;
  /** Container origin as written, e.g. `ostree-image-signed:docker://quay.io/fedora/fedora-coreos:stable`. */
  containerImageReference: string | undefined;
  booted: boolean;
  staged: boolean;
  finalizationLocked: boolean;
  pinned: boolean;
  /** Commit timestamp in Unix seconds, when known. */
  timestamp: number | undefined;
}

export interface UpdateDriver {
  name: string;
  unit: string;
}

export interface DeploymentStatus {
  /** All deployments in boot order (index 0 boots next). */
  deployments: Deployment[];
  booted: Deployment;
  staged: Deployment | undefined;
  /** The deployment after the booted one in boot order. */
  rollback: Deployment | undefined;
  driver: UpdateDriver | undefined;
  /** Title of a transaction in progress, or undefined when idle. */
  activeTransaction: string | undefined;
}
