// index.js, the file the agent runs: it turns on the code cache for the task's folder, then loads the task's entry
// bundle (main.js), which is built from tasks/<task>/index.ts.
import { useCompileCache } from './compileCache';

useCompileCache(__dirname);
// A require, not an import: an import would be hoisted above the line that turns the cache on.
// eslint-disable-next-line @typescript-eslint/no-require-imports
require('./main.js');
