/**
 * cdk-nag is CommonJS whose named exports Node's ESM loader cannot detect statically, so it is
 * loaded through require and re-exported with its own types.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const cdkNag = require('cdk-nag') as typeof import('cdk-nag');

export const { AwsSolutionsChecks, NagSuppressions } = cdkNag;
