#!/usr/bin/env node
// Entry point of `npm start`; see src/main.js.
import { main } from './src/main.js';

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error('[tessera] failed:', error);
}
// Explicit exit: a stray handle (a timer in a client library) must not keep a stopped stack alive.
process.exit(code);
