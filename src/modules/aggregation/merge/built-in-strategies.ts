import { ConfigDumpStrategy } from './config-dump.strategy.js';
import { ConnectionsStrategy } from './connections.strategy.js';
import { InternalDebugStrategy } from './internal-debug.strategy.js';
import { SynczStrategy } from './syncz.strategy.js';

/**
 * Every built-in merge strategy, spread into the aggregation module's providers. Each names its
 * type URL once, in its @MergeStrategy decorator: adding a strategy is one file and one entry here.
 * Type URLs no strategy claims fall back to ConcatenateStrategy.
 */
export const BUILT_IN_STRATEGIES = [SynczStrategy, ConfigDumpStrategy, InternalDebugStrategy, ConnectionsStrategy];
