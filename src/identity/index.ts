export type { NodeIdentity } from "./types.js";
export { appSpecificMachineId, normalizeUuid, readNodeUuid, ZINCATI_APP_ID } from "./node-uuid.js";
export {
  basearchFor,
  platformFromCmdline,
  readPlatform,
  validateGroup,
  validateRolloutWariness,
} from "./platform.js";
export { resolveIdentity, type ResolveIdentityOptions } from "./resolve.js";
