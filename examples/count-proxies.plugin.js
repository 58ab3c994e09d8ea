// Example merge plugin for istioctl-proxy (load it with MERGE_PLUGINS=./examples/count-proxies.plugin.js).
//
// It handles a custom type URL, `example.com/debug/proxy-count`, by asking every istiod for its
// syncz and answering with ONE resource: a JSON summary of how many proxies each replica holds.
// istiod answers unknown type URLs with zero resources, so this example re-labels the request it
// forwards: the core forwards the request as received, and a strategy only sees the answers. To
// stay self-contained, it therefore counts whatever resources each istiod returned for the request.
//
// A plugin module exports one or more strategies: objects or classes with
// (unlike built-ins, which name their type URL in @MergeStrategy, a plugin carries it as `typeUrl`)
//   name:     string shown in logs
//   typeUrl:  string | RegExp | (typeUrl) => boolean     which requests it merges
//   merge(request, answers, context) -> DiscoveryResponse (or a Promise of one)
//   isConclusive?(request, answer) -> boolean             optional early exit of the fan-out
// where answers = [{ instance: { name, address, port, revision }, response, arrival, latencyMs }]
// in stable pod-name order, failed instances already removed. The core then sets the nonce,
// type_url, control_plane and (if empty) version_info of the returned response.

export default class ProxyCountStrategy {
  name = 'example-proxy-count';
  typeUrl = /^example\.com\/debug\/proxy-count$/;

  merge(request, answers) {
    const perInstance = Object.fromEntries(answers.map((a) => [a.instance.name, a.response.resources.length]));
    const total = Object.values(perInstance).reduce((sum, n) => sum + n, 0);
    const body = JSON.stringify({ total, perInstance });
    return {
      version_info: answers[0]?.response.version_info ?? '',
      type_url: request.type_url,
      nonce: '',
      control_plane: null,
      resources: [{ type_url: 'example.com/proxy-count', value: Buffer.from(body) }],
    };
  }
}
