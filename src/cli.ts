#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=40
// A sync allocates fast and keeps little: Node's young generation grows to 64 MiB by default, and
// the old one, sized by V8's own growing factor, lets what a sync promoted pile up to several
// times what is live. 8 MiB semi-spaces and a full collection once the old generation grows by
// 40 % keep the sync's peak near 131 MiB (bench/README.md); V8's own factor let it reach 166 MiB.
// 20 % held it 2 MiB lower, at 8 % of the sync's rate and 3 % more CPU per lookup (a full
// collection every second under lookups). Every way Canopy is started (the `canopy` command, npm
// start, the container, the benchmarks) goes through this line.
import { enablePrivateCompileCache } from './lifecycle/compile-cache.js';

// Before the rest is loaded: Node then reads Canopy's compiled modules from its cache, and a command starts about 0.3 s sooner.
enablePrivateCompileCache();
await import('./command-line.js');
