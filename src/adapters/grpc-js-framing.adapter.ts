import { ServerInterceptingCall, type ServerInterceptor } from '@grpc/grpc-js';
import { GRPC_FRAME_HEADER_BYTES as FRAME_HEADER_BYTES } from '../common/discovery-response.codec.js';

/*
 * The grpc-js reach-around of the answer path: responses sent without grpc-js's framing copy.
 * grpc-js-framing.adapter.spec.ts pins it against the real library, so an upgrade that changes the
 * members used here fails a test (at run time the proxy would then just frame with a copy again).
 */

/** What `sendPreframedResponses` reaches into: grpc-js's BaseServerInterceptingCall (server-interceptors.ts). */
interface BaseServerCallInternals {
  handler?: { serialize?: (value: unknown) => Buffer };
  serializeMessage?: (value: unknown) => Buffer;
  sendMessage(message: unknown, callback: () => void): void;
}

/**
 * Sends the responses of `methodPath` without grpc-js's framing copy. grpc-js frames a response by
 * allocating header + message and copying the serialized message into it: for a 40 MiB answer, a
 * second 40 MiB of fresh memory. A serializer that leaves the 5-byte header already written in front
 * of the message it returns (encodeDiscoveryResponse does) is sent as header + message in place; any
 * other message is framed with a copy as before, so the bytes on the wire are the same either way.
 *
 * `onSent(frame)` is called when grpc-js reports a frame sent in place as written (the connection has
 * taken every byte): only then may its buffer be reused. Frames grpc-js copied are not reported. Must
 * be the first interceptor of the server, where grpc-js hands over its BaseServerInterceptingCall;
 * anywhere else, or after a grpc-js change that removes these members, responses are framed by
 * grpc-js as usual (the adapter spec fails loudly then) and `onUnavailable` is called, once.
 */
export function sendPreframedResponses(
  methodPath: string,
  onSent: (frame: Buffer) => void = () => undefined,
  onUnavailable: (reason: string) => void = () => undefined,
): ServerInterceptor {
  let warned = false;
  return (method, call) => {
    if (method.path === methodPath && !preframe(call, onSent) && !warned) {
      warned = true;
      onUnavailable('grpc-js did not hand over a call with handler.serialize, serializeMessage and sendMessage');
    }
    return new ServerInterceptingCall(call);
  };
}

/** Sets the call up to send preframed messages in place; false when it is not grpc-js's own call object. */
function preframe(call: BaseServerCallInternals, onSent: (frame: Buffer) => void): boolean {
  const serialize = call.handler?.serialize;
  if (typeof serialize !== 'function' || typeof call.serializeMessage !== 'function' || typeof call.sendMessage !== 'function')
    return false;
  let framed: Buffer | undefined;
  call.serializeMessage = (value: unknown) => {
    const message = serialize(value);
    framed = hasFrameHeader(message)
      ? Buffer.from(message.buffer, message.byteOffset - FRAME_HEADER_BYTES, message.length + FRAME_HEADER_BYTES)
      : undefined;
    return framed ?? copyIntoFrame(message);
  };
  const takeFramed = () => {
    const frame = framed;
    framed = undefined;
    return frame;
  };
  const sendMessage = call.sendMessage.bind(call);
  call.sendMessage = (message: unknown, callback: () => void) => {
    takeFramed();
    const sent: { frame?: Buffer } = {};
    // grpc-js calls back only after the HTTP/2 stream accepted the whole frame; never on failure.
    sendMessage(message, () => {
      if (sent.frame) onSent(sent.frame);
      callback();
    });
    sent.frame = takeFramed(); // serializeMessage ran synchronously inside sendMessage
  };
  return true;
}

/** The 5 bytes in front of `message` (same underlying memory) are its uncompressed gRPC frame header. */
function hasFrameHeader(message: Buffer): boolean {
  const start = message.byteOffset - FRAME_HEADER_BYTES;
  if (start < 0) return false;
  const header = new DataView(message.buffer, start, FRAME_HEADER_BYTES);
  return header.getUint8(0) === 0 && header.getUint32(1) === message.length;
}

function copyIntoFrame(message: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(message.length + FRAME_HEADER_BYTES);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}
