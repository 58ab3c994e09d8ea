/** The JSON body of `istioctl-proxy/locate?proxyID=…`: the replicas that hold the proxy. */
export interface Located {
  proxy: string;
  replicas: Array<{
    istiod: string;
    cluster_id: string;
    istio_version: string;
    last_updated: string | null;
    types: Record<string, string>;
  }>;
  missing?: string[];
}
