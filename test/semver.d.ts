// The semver release that azure-pipelines-task-lib brings along ships no types; the tests use one function of it.
declare module 'semver' {
  const semver: { satisfies(version: string, range: string): boolean };
  export default semver;
}
