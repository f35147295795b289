// The four task folders of the extension: the one list the build, packaging and tests share.
export const TASK_FOLDERS = ['promote-image', 'deploy-to-aks', 'acceptance-gate', 'defender-scan-check'];
