import { ConcatenateStrategy } from './concatenate.strategy.js';
import { MergeStrategy } from './merge-strategy.js';

/** istioctl <= 1.20 `x version` asks istio.io/connections and reads only control_plane: concatenate. */
@MergeStrategy('istio.io/connections')
export class ConnectionsStrategy extends ConcatenateStrategy {
  override readonly name = 'connections';
}
