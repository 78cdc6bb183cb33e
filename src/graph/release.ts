/** A release named by the update graph: what the agent can move to. */
export interface Release {
  version: string;
  /** OSTree checksum, or `registry/repo@sha256:…` pullspec (scheme `oci`). */
  payload: string;
  /** `org.fedoraproject.coreos.releases.age_index`: higher is newer. */
  ageIndex: number;
  /** Node metadata as sent by the server (all values are strings). */
  metadata: Record<string, string>;
}
