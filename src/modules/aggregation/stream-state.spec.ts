import { status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DiscoveryRequest, DiscoveryResponse } from '../../common/xds-types.js';
import { MAX_REMEMBERED_NONCES, StreamState } from './stream-state.js';

const SYNCZ = 'istio.io/debug/syncz';

function sent(nonce: string, type_url = SYNCZ): DiscoveryResponse {
  return { version_info: 'v1', resources: [], type_url, nonce, control_plane: null };
}

function ack(nonce: string, type_url = SYNCZ): DiscoveryRequest {
  return { version_info: 'v1', node: null, resource_names: [], type_url, response_nonce: nonce };
}

describe('StreamState', () => {
  afterEach(() => vi.useRealTimers());

  it('treats a request echoing a nonce sent for its type as an ACK, and nothing else', () => {
    const sut = new StreamState(100);
    sut.recordSent(sent('n1'));

    expect(sut.isAck(ack('n1'))).toBe(true);
    expect(sut.isAck(ack('n1', 'istio.io/debug/config_dump'))).toBe(false);
    expect(sut.isAck(ack('2026-08-22 15:00:18.1234 +0000 UTC m=+0.41'))).toBe(false);
    expect(sut.isAck(ack(''))).toBe(false);
  });

  it(`remembers at most MAX_REMEMBERED_NONCES (${MAX_REMEMBERED_NONCES}) nonces, forgetting the oldest first`, () => {
    const sut = new StreamState(1000);
    const pushed = MAX_REMEMBERED_NONCES + 10;
    for (let i = 0; i < pushed; i++) sut.recordSent(sent(`n${i}`, i % 2 ? SYNCZ : 'istio.io/debug'));

    expect(sut.rememberedNonces).toBe(MAX_REMEMBERED_NONCES);
    expect(sut.isAck(ack('n0', 'istio.io/debug'))).toBe(false); // forgotten: answered as a new request
    expect(sut.isAck(ack('n9'))).toBe(false);
    expect(sut.isAck(ack(`n${pushed - MAX_REMEMBERED_NONCES}`, 'istio.io/debug'))).toBe(true);
    expect(sut.isAck(ack(`n${pushed - 1}`))).toBe(true);
  });

  it('takes MAX_REQUESTS_PER_STREAM requests, then refuses the next with RESOURCE_EXHAUSTED naming the variable', () => {
    const sut = new StreamState(3);
    for (let i = 0; i < 3; i++) {
      sut.taken();
      sut.done();
    }

    let refused: unknown;
    try {
      sut.taken();
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(RpcException);
    expect((refused as RpcException).getError()).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      message: expect.stringContaining('MAX_REQUESTS_PER_STREAM=3') as unknown,
    });
  });

  it('is idle after the timeout only while no request is in flight, counting from the last one done', () => {
    vi.useFakeTimers();
    const sut = new StreamState(100);
    const idle = vi.fn();
    sut.idleFor(1000).subscribe(idle);

    vi.advanceTimersByTime(900);
    sut.taken(); // a request in flight for a long time: never idle meanwhile
    vi.advanceTimersByTime(5000);
    expect(idle).not.toHaveBeenCalled();

    sut.done();
    vi.advanceTimersByTime(999);
    expect(idle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(idle).toHaveBeenCalledTimes(1);
  });
});
