import { describe } from 'vitest';
import { environmentSuite } from './__tests__/environment-suite.js';

describe('useTestEnvironment (file b)', () => environmentSuite('b'));
