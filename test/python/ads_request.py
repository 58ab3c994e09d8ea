"""An independent gRPC client (C-core, via Debian's python3-grpcio) for wire-compatibility checks.

Reads a JSON job on stdin: {"address", "ca_pem", "server_name", "token", "request_hex"}; sends the
pre-encoded DiscoveryRequest on one StreamAggregatedResources call over TLS, never half-closes,
prints {"response_hex", "initial_metadata"} for the first response (or {"code", "details"}), then
cancels, as istioctl does.
"""
import json
import sys

import grpc


def main() -> None:
    job = json.load(sys.stdin)
    credentials = grpc.ssl_channel_credentials(root_certificates=job["ca_pem"].encode())
    options = [("grpc.ssl_target_name_override", job["server_name"]), ("grpc.max_receive_message_length", -1)]
    with grpc.secure_channel(job["address"], credentials, options=options) as channel:
        method = channel.stream_stream(
            "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
            request_serializer=lambda raw: raw,
            response_deserializer=lambda raw: raw,
        )
        sent = __import__("threading").Event()

        def requests():
            yield bytes.fromhex(job["request_hex"])
            sent.wait()  # keep the send side open, like istioctl

        call = method(requests(), metadata=[("authorization", "Bearer " + job["token"])])
        try:
            first = next(call)
            print(json.dumps({"response_hex": first.hex(), "initial_metadata": dict(call.initial_metadata())}))
        except grpc.RpcError as err:
            print(json.dumps({"code": err.code().name, "details": err.details()}))
        finally:
            sent.set()
            call.cancel()


if __name__ == "__main__":
    main()
