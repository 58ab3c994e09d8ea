import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

type CheckCallback = (err: grpc.ServiceError | null, response?: { status: string }) => void;
type HealthClient = grpc.Client & { check(request: { service: string }, callback: CheckCallback): void };

const HealthClientConstructor = grpc.makeGenericClientConstructor(healthService, 'Health');

/** grpc.health.v1.Health/Check as kubelet's gRPC probe or grpc-health-probe calls it (plaintext). */
export async function grpcHealthCheck(address: string, service: string): Promise<string> {
  const client = new HealthClientConstructor(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
  try {
    return await new Promise<string>((resolve, reject) =>
      client.check({ service }, (err, response) => (err ? reject(err) : resolve(response?.status ?? ''))),
    );
  } finally {
    client.close();
  }
}
