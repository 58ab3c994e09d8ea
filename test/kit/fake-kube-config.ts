import { KubeConfig } from '@kubernetes/client-node';

const CLUSTER = 'fake-kube-api';
const USER = 'fake-kube-api-user';
const CONTEXT = 'fake-kube-api';

/**
 * A client-node KubeConfig for a plain-HTTP server authenticating with a bearer token.
 * skipTLSVerify must be true: client-node 1.4's createAgent() refuses an `http:` server otherwise
 * ("HTTP protocol is not allowed when skipTLSVerify is not set or false").
 */
export function buildKubeConfig(server: string, token: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: CLUSTER, server, skipTLSVerify: true }],
    users: [{ name: USER, token }],
    contexts: [{ name: CONTEXT, cluster: CLUSTER, user: USER }],
    currentContext: CONTEXT,
  });
  return kubeConfig;
}

/**
 * The same configuration as a kubeconfig file, for child processes started with KUBECONFIG.
 * Values go through JSON.stringify because a JSON string is a valid double-quoted YAML scalar.
 */
export function buildKubeconfigYaml(server: string, token: string): string {
  const q = (value: string): string => JSON.stringify(value);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${q(CLUSTER)}`,
    '  cluster:',
    `    server: ${q(server)}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${q(USER)}`,
    '  user:',
    `    token: ${q(token)}`,
    'contexts:',
    `- name: ${q(CONTEXT)}`,
    '  context:',
    `    cluster: ${q(CLUSTER)}`,
    `    user: ${q(USER)}`,
    `current-context: ${q(CONTEXT)}`,
    '',
  ].join('\n');
}
