// Mutation testing of the pure modules (`npm run mutate`; not part of `npm test` or CI, it takes long): Stryker
// changes one operator, condition or literal at a time and runs the unit tests that cover it; a mutant that every
// test survives is a promise no test holds. The score is printed per file and written as HTML under build/mutation.
// One module while working: `npm run mutate -- --mutate tasks/common/retry.ts` (incremental: unchanged mutants
// keep their last result).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'mocha',
  // The unit tests run on the TypeScript sources through tsx, as .mocharc.json has them.
  mochaOptions: {
    spec: [
      'test/unit/imageReference.test.ts',
      'test/unit/inputs.test.ts',
      'test/unit/retry.test.ts',
      'test/unit/retry-*.test.ts',
      'test/unit/acceptance-gate-*.test.ts',
      'test/unit/acceptance-gate/**/*.test.ts',
      'test/unit/defender-scan-check-findings.test.ts',
      'test/unit/defender-scan-check/**/*.test.ts',
      'test/unit/promote-image-referrers.test.ts',
      'test/unit/promote-image/**/*.test.ts',
      'test/unit/deploy-to-aks-manifests.test.ts',
      'test/unit/deploy-to-aks/**/*.test.ts',
      'test/unit/common/**/*.test.ts',
    ],
    require: ['tsx/cjs'],
  },
  // No type checker by default: it took over ten minutes for mutants that the tests judge in seconds. Without it a
  // mutant that would not compile runs like any other (tsx strips the types). `npm run mutate -- --checkers typescript`
  // adds it; it compiles only the mutated modules and what they import.
  checkers: [],
  tsconfigFile: 'tsconfig.stryker.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  // Mutants of module-level constants run every test once each and took most of the time; they are left out.
  ignoreStatic: true,
  mutate: [
    'tasks/common/imageReference.ts',
    'tasks/common/inputs.ts',
    'tasks/common/retry.ts',
    // Which values are secrets and the lines registered with the agent (the adapter that registers them needs an agent).
    'tasks/common/secrets.ts',
    'tasks/acceptance-gate/config.ts',
    'tasks/acceptance-gate/expression.ts',
    'tasks/acceptance-gate/gate.ts',
    'tasks/acceptance-gate/judge.ts',
    'tasks/defender-scan-check/policy.ts',
    'tasks/defender-scan-check/findings.ts',
    'tasks/common/registry/referrers.ts',
    // Whether a target tag conflicts with the promoted digest: the promotion stops before writing anything.
    'tasks/promote-image/tags.ts',
    'tasks/deploy-to-aks/manifests.ts',
    // The rollout evaluators (one per workload kind), the pod problems that fail a rollout at once and the judgement
    // over them; the watch loop around them needs a cluster and is held by the task tests.
    'tasks/deploy-to-aks/rollout/{deployment,statefulSet,daemonSet,job,pod,podProblems,judge,template,managedFields}.ts',
    // The compare check's statistics and classifier.
    'tasks/acceptance-gate/statistics/*.ts',
    'tasks/acceptance-gate/compare/*.ts',
  ],
  ignorePatterns: ['build', 'images', '*.vsix', '.tmp'],
  coverageAnalysis: 'perTest',
  concurrency: 1,
  // The unit tests take milliseconds; a mutant that makes one wait (a sleep, a retry loop) is a timeout, killed.
  timeoutMS: 2000,
  incremental: true,
  incrementalFile: 'build/mutation/incremental.json',
  tempDirName: 'build/.stryker-tmp',
  cleanTempDir: 'always',
  reporters: ['clear-text', 'html', 'json', 'progress'],
  clearTextReporter: { reportTests: false, reportMutants: false, reportScoreTable: true },
  htmlReporter: { fileName: 'build/mutation/index.html' },
  jsonReporter: { fileName: 'build/mutation/mutation.json' },
  thresholds: { high: 90, low: 85, break: null },
};
