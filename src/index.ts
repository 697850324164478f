// Canopy's programmatic API: start a server from a configuration, or use its pieces in tests.
export { startServer, type RunningServer } from './server.js';
export { loadConfigFile, parseConfig, type LoadedConfig } from './config/load.js';
export { ConfigError, ConfigErrors } from './config/config-error.js';
export type { CanopyConfig, ForestConfig } from './config/schema.js';
export { MemoryDirectory } from './backends/memory/memory-directory.js';
export { parseLdif, entriesToLdif } from './backends/memory/ldif.js';
export { generateForest } from './tools/fixture-generator.js';
export {
  startMockDirectory,
  MOCK_ADMIN_DN,
  type MockDirectory,
  type MockDirectoryOptions,
  type MockProfile,
  type MockSnapshot,
} from './mock/mock-directory.js';
export { FaultSwitches, type FaultSpec, type FaultKind, type ActiveFault } from './mock/faults.js';
export { Journal, type JournalEntry, type JournalControl } from './mock/journal.js';
export { Dn } from './core/dn.js';
export { Entry, type Attribute, type AttributeValue } from './core/entry.js';
export { LdapError } from './core/ldap-error.js';
export { ResultCode } from './core/result-codes.js';
export { searchContext, type Directory, type SearchRequest, type SearchStream, type OperationContext, type SearchContext } from './core/directory.js';
export { SearchTrailer } from './core/search-trailer.js';
