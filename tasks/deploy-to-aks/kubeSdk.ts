// The one value deploy-to-aks takes from the Kubernetes SDK, behind a dynamic import of this module: the bundle
// then keeps only what KubeConfig needs (a dynamic import of the package itself would keep all of it) and evaluates
// it only when a connection is opened.
export { KubeConfig } from '@kubernetes/client-node';
