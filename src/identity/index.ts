export type { NodeIdentity } from "./types.js";
export { appSpecificMachineId, MACHINE_ID_PATH, normalizeUuid, readNodeUuid, ZINCATI_APP_ID } from "./node-uuid.js";
export {
  basearchFor,
  KERNEL_CMDLINE_PATH,
  platformFromCmdline,
  readPlatform,
  validateGroup,
  validateRolloutWariness,
} from "./platform.js";
export { resolveIdentity, type ResolveIdentityOptions } from "./resolve.js";
