"""Cairn event subscriber in Python: proof that the event contract is language-neutral.

Generates protobuf code from Cairn's proto/ directory (grpc_tools' bundled protoc), reads the
first event on a subject from a JetStream stream, decodes it by its Cairn-Event-Type header, and
prints the envelope headers and the event as JSON.
"""

import argparse
import asyncio
import importlib
import json
import sys
import tempfile

import nats
from google.protobuf.json_format import MessageToDict
from grpc_tools import protoc


def generate(proto_dir: str) -> str:
    out = tempfile.mkdtemp(prefix="cairn-proto-")
    files = ["cairn/events/v1/envelope.proto", "cairn/events/v1/events.proto"]
    code = protoc.main(["protoc", f"-I{proto_dir}", f"--python_out={out}", *files])
    if code != 0:
        sys.exit(f"protoc failed with {code}")
    return out


async def first_event(url: str, stream: str, subject: str) -> dict:
    events = importlib.import_module("cairn.events.v1.events_pb2")
    client = await nats.connect(url)
    try:
        jetstream = client.jetstream()
        subscription = await jetstream.subscribe(subject, stream=stream, ordered_consumer=True)
        message = await subscription.next_msg(timeout=10)
        headers = dict(message.headers or {})
        type_name = headers["Cairn-Event-Type"]
        package, _, name = type_name.rpartition(".")
        if package != "cairn.events.v1":
            sys.exit(f"unknown event package {package}")
        event = getattr(events, name)()
        event.ParseFromString(message.data)
        return {
            "headers": headers,
            "event": MessageToDict(event, preserving_proto_field_name=True),
        }
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--proto", required=True)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--subject", required=True)
    args = parser.parse_args()
    sys.path.insert(0, generate(args.proto))
    print(json.dumps(asyncio.run(first_event(args.url, args.stream, args.subject))))


if __name__ == "__main__":
    main()
