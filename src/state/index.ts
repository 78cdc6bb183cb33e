export { STATE_PATH, statePath } from "./paths.js";
export { StateFile, type LoadedState, type StateFileOptions, type StateLogLevel } from "./state-file.js";
