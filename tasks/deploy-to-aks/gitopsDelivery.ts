/** The GitOps delivery, loaded by the entry as a bundle of its own once the inputs are valid (see index.ts). */
export { deliverByGitOps } from './gitops/deliver';
export { gitOpsSummaryMarkdown } from './gitops/summary';
