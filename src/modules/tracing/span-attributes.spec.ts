import {
  ATTR_ERROR_TYPE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import { describe, expect, it } from 'vitest';
import { SEMCONV } from './span-attributes.js';

describe('SEMCONV', () => {
  it('spells the semantic-convention attribute names as @opentelemetry/semantic-conventions does', () => {
    expect(SEMCONV).toEqual({
      errorType: ATTR_ERROR_TYPE,
      rpcMethod: ATTR_RPC_METHOD,
      rpcStatusCode: ATTR_RPC_STATUS_CODE,
      rpcSystemName: ATTR_RPC_SYSTEM_NAME,
      serverAddress: ATTR_SERVER_ADDRESS,
      serverPort: ATTR_SERVER_PORT,
    });
  });
});
