import { IstioctlConnection } from './istioctl-connection.js';
import { parseJsonArgument, serveCommands } from './command-protocol.js';
import {
  LOAD_COMMANDS,
  type BurstJob,
  type BurstResult,
  type ConcurrencyJob,
  type ConcurrencyResult,
  type LatencyJob,
  type LatencyResult,
  type VariantResult,
} from './load-jobs.js';
import { ConnectionPool, ErrorLog, runOperation } from './operation.js';
import { countOwnConnectionsTo } from './proc-stats.js';
import { median } from './stats.js';

/** A channel option no library reads, unique per concurrent user: channels with different options never share subchannels. */
const BENCH_USER_OPTION = 'istioctl-proxy-bench.user';

/**
 * `node dist-tools/tools/bench/load-client.js '{}'`: the istioctl side of every measurement, in its own process
 * so neither the simulators nor the client's decoding count against the proxy. Every loop is bounded
 * by a count and by the job's time budget.
 */
async function main(): Promise<void> {
  parseJsonArgument<object>('load-client');
  const pool = new ConnectionPool();
  await serveCommands(
    { pid: process.pid },
    {
      [LOAD_COMMANDS.latency]: async (job) => runLatency(pool, job as LatencyJob),
      [LOAD_COMMANDS.concurrency]: async (job) => runConcurrency(job as ConcurrencyJob),
      [LOAD_COMMANDS.burst]: async (job) => runBurst(pool, job as BurstJob),
    },
    () => pool.closeAll(),
  );
}

/** Variants take turns operation by operation, rotating who goes first, so drift hits all alike. */
async function runLatency(pool: ConnectionPool, job: LatencyJob): Promise<LatencyResult> {
  const deadline = Date.now() + job.budgetMs;
  const connect = (address: string) => pool.get(address, job.token);
  const results: VariantResult[] = job.variants.map(({ label }) => ({
    label,
    samplesMs: [],
    repMediansMs: [],
    errors: 0,
    errorMessages: [],
    resources: 0,
    resourceBytes: 0,
  }));
  const errors = job.variants.map(() => new ErrorLog());
  let truncated = false;

  for (let op = 0; op < job.warmupOps && !truncated; op++) {
    for (const variant of job.variants) {
      await runOperation(connect, variant.addresses, variant.request, job.timeoutMs, variant.mode).catch(() => undefined);
    }
    truncated = Date.now() > deadline;
  }
  for (let rep = 0; rep < job.reps && !truncated; rep++) {
    const repSamples = job.variants.map((): number[] => []);
    for (let op = 0; op < job.opsPerRep && !truncated; op++) {
      for (let turn = 0; turn < job.variants.length; turn++) {
        const index = (turn + op + rep) % job.variants.length;
        const variant = job.variants[index];
        try {
          const outcome = await runOperation(connect, variant.addresses, variant.request, job.timeoutMs, variant.mode);
          repSamples[index].push(outcome.elapsedMs);
          results[index].resources = outcome.resources;
          results[index].resourceBytes = outcome.resourceBytes;
        } catch (err) {
          errors[index].record(err);
        }
      }
      truncated = Date.now() > deadline;
    }
    repSamples.forEach((samples, index) => {
      results[index].samplesMs.push(...samples);
      if (samples.length > 0) results[index].repMediansMs.push(median(samples));
    });
  }
  results.forEach((result, index) => {
    result.errors = errors[index].count;
    result.errorMessages = errors[index].messages;
  });
  return { variants: results, truncated };
}

/**
 * One user per token, each on its own channel and connection (a channel option unique to the user, so
 * grpc-js cannot share a subchannel): all connect, warm up, then all run their requests together.
 * With `fanout`, each user asks all those addresses at once itself, on connections of its own.
 */
async function runConcurrency(job: ConcurrencyJob): Promise<ConcurrencyResult> {
  const deadline = Date.now() + job.budgetMs;
  const targets = job.fanout ?? [job.address];
  const mode = job.fanout ? 'parallel' : 'sequential';
  const users = job.tokens.map(
    (token, user) => new Map(targets.map((address) => [address, new IstioctlConnection(address, token, { [BENCH_USER_OPTION]: user })])),
  );
  const operation = (user: Map<string, IstioctlConnection>) =>
    runOperation((address) => user.get(address)!, targets, job.request, job.timeoutMs, mode);
  const samplesMs: number[] = [];
  const errors = new ErrorLog();
  let truncated = false;
  let resourceBytes = 0;
  try {
    // Connected before anything is measured, so every user's requests start together and the count
    // below shows whether each user really has a connection of its own. A user that cannot connect
    // fails its requests below, where it is counted.
    await Promise.all(
      users.flatMap((user) => [...user.values()].map((connection) => connection.connect(job.timeoutMs).catch(() => undefined))),
    );
    const connections = countOwnConnectionsTo(Number(job.address.slice(job.address.lastIndexOf(':') + 1)));
    await Promise.all(
      users.map(async (user) => {
        for (let i = 0; i < job.warmupPerStream && Date.now() < deadline; i++) await operation(user).catch(() => undefined);
      }),
    );
    const started = performance.now();
    await Promise.all(
      users.map(async (user) => {
        for (let i = 0; i < job.requestsPerStream; i++) {
          if (Date.now() > deadline) {
            truncated = true;
            return;
          }
          try {
            const outcome = await operation(user);
            samplesMs.push(outcome.elapsedMs);
            resourceBytes = outcome.resourceBytes;
          } catch (err) {
            errors.record(err);
          }
        }
      }),
    );
    return {
      samplesMs,
      errors: errors.count,
      errorMessages: errors.messages,
      errorCodes: errors.codes,
      wallMs: performance.now() - started,
      resourceBytes,
      connections,
      truncated,
    };
  } finally {
    for (const user of users) for (const connection of user.values()) connection.close();
  }
}

/** `count` identical requests from one caller (one connection), all started in the same tick. */
async function runBurst(pool: ConnectionPool, job: BurstJob): Promise<BurstResult> {
  const connection = pool.get(job.address, job.token);
  const errors = new ErrorLog();
  const samplesMs: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: job.count }, () =>
      runOperation(() => connection, [job.address], job.request, job.timeoutMs).then(
        (outcome) => samplesMs.push(outcome.elapsedMs),
        (err: unknown) => errors.record(err),
      ),
    ),
  );
  return { samplesMs, errors: errors.count, errorMessages: errors.messages, wallMs: performance.now() - started };
}

main().catch((err: unknown) => {
  console.error(`load-client failed: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
