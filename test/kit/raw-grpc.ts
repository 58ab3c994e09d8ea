import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type Settings } from 'node:http2';

/**
 * gRPC over bare node:http2, for tests that must see what a gRPC library hides: GOAWAY codes,
 * RST_STREAM codes, connection errors, and frames a well-behaved client would never send.
 */

/** A gRPC length-prefixed message (uncompressed). */
export function grpcFrame(message: Buffer, declaredLength = message.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([prefix, message]);
}

/** The gRPC status the server sent. */
export interface RawStatus {
  grpcStatus: number;
  grpcMessage?: string;
  trailers: IncomingHttpHeaders;
}

/** How a raw call ended. */
export interface RawCallEnd {
  /** grpc-status from the trailers (or a trailers-only response); undefined if the stream ended without. */
  grpcStatus?: number;
  grpcMessage?: string;
  trailers: IncomingHttpHeaders;
  /** The RST_STREAM code the stream closed with (NGHTTP2_NO_ERROR = 0 when it ended normally). */
  rstCode: number;
  /** A stream error, e.g. ECONNRESET or a GOAWAY with an error code. */
  error?: Error;
}

export interface RawCall {
  stream: ClientHttp2Stream;
  /** Response messages received so far, without their prefix. */
  readonly messages: Buffer[];
  /** Resolves with the next response message. */
  nextMessage(): Promise<Buffer>;
  /**
   * Resolves when the server's status arrives, even if the client's side stays open (a server that
   * answers before the request is complete need not reset the stream); never rejects.
   */
  readonly status: Promise<RawStatus>;
  /** Resolves once the stream is closed (both sides, or reset); never rejects. */
  readonly ended: Promise<RawCallEnd>;
}

/** A POST to `path` with gRPC headers (plus `headers`); messages are written by the caller with grpcFrame(). */
export function openRawCall(session: ClientHttp2Session, path: string, headers: Record<string, string> = {}): RawCall {
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  const messages: Buffer[] = [];
  const waiters: Array<(message: Buffer) => void> = [];
  let pending = Buffer.alloc(0);
  stream.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
      const length = pending.readUInt32BE(1);
      const message = pending.subarray(5, 5 + length);
      pending = pending.subarray(5 + length);
      messages.push(message);
      waiters.shift()?.(message);
    }
  });
  let trailers: IncomingHttpHeaders = {};
  let error: Error | undefined;
  let statusReceived: (status: RawStatus) => void = () => undefined;
  const status = new Promise<RawStatus>((resolve) => (statusReceived = resolve));
  const onTrailers = (received: IncomingHttpHeaders) => {
    if (received['grpc-status'] === undefined) return;
    trailers = received;
    statusReceived({ grpcStatus: Number(received['grpc-status']), grpcMessage: grpcMessage(received), trailers: received });
  };
  stream.on('response', onTrailers);
  stream.on('trailers', onTrailers);
  stream.on('error', (err: Error) => (error = err));
  const ended = new Promise<RawCallEnd>((resolve) =>
    stream.on('close', () =>
      resolve({
        grpcStatus: trailers['grpc-status'] === undefined ? undefined : Number(trailers['grpc-status']),
        grpcMessage: grpcMessage(trailers),
        trailers,
        rstCode: stream.rstCode ?? constants.NGHTTP2_NO_ERROR,
        error,
      }),
    ),
  );
  let read = 0;
  return {
    stream,
    messages,
    nextMessage: () =>
      new Promise((resolve) => {
        if (read < messages.length) resolve(messages[read++]);
        else
          waiters.push((message) => {
            read++;
            resolve(message);
          });
      }),
    status,
    ended,
  };
}

function grpcMessage(trailers: IncomingHttpHeaders): string | undefined {
  const raw = trailers['grpc-message'];
  return raw === undefined ? undefined : decodeURIComponent(String(raw));
}

/** What happened to a raw HTTP/2 connection: GOAWAYs received, errors, and whether it closed. */
export interface RawSession {
  session: ClientHttp2Session;
  readonly goaways: number[];
  readonly errors: Error[];
  readonly closed: Promise<void>;
}

/**
 * An h2c connection. `windowBytes` sets both HTTP/2 receive windows (each stream's, and the
 * connection's once connected), as istioctl's grpc-go grows them to 16 MiB; Node keeps 64 KiB.
 */
export function openRawSession(address: string, { windowBytes }: { windowBytes?: number } = {}): RawSession {
  const settings: Settings = windowBytes === undefined ? {} : { initialWindowSize: windowBytes };
  const session = connect(`http://${address}`, { settings });
  if (windowBytes !== undefined) session.once('connect', () => session.setLocalWindowSize(windowBytes));
  const goaways: number[] = [];
  const errors: Error[] = [];
  session.on('goaway', (code: number) => goaways.push(code));
  session.on('error', (err: Error) => errors.push(err));
  const closed = new Promise<void>((resolve) => session.on('close', () => resolve()));
  return { session, goaways, errors, closed };
}
