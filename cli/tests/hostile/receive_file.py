"""An independent PeerDrop receiver (aiortc, not PeerDrop's code) for cli/tests/packet_size_to_the_peer.rs.

It is not hostile: it plays another team's implementation written from docs/protocol.md, on a
WebRTC stack whose receive buffers are its own (aiortc reads 1500 bytes of DTLS plaintext per
datagram). It signs in to peerdrop-signal without saying what packet size it takes, prints
`{"code": ...}` as its first line, answers the first offer, and receives files the way a
receiver must: commitment, nonce, reveal checked against the commitment, accept, data frames
written at their offsets, `stored` every MiB, `file_done` checked against its own BLAKE3 of
what arrived, `file_ok`. It writes each file into OUT_DIR under its base name and prints one
JSON line `{"files": {name: blake3}}` when every file is verified and exits 0; on a failure it
prints `{"error": ...}` and exits 1 (a time-out raises, exit 1 too).

Usage: receive_file.py WS_URL OUT_DIR SECONDS
"""

import asyncio
import json
import os
import secrets
import struct
import sys

import aioice.ice
import blake3
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

# Tests talk to loopback only: gather host candidates on 127.0.0.1 and nothing else.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

COMMIT_CONTEXT = "peerdrop 2025-06 verification commitment v1"
DATA_KIND = 0x01
HEADER = struct.Struct(">BIQ")  # kind, file index, offset (big-endian)
STORED_EVERY = 1 << 20


class Receiver:
    """The receiving side of one transfer, driven by control and data channel messages."""

    def __init__(self, out_dir: str):
        self.out_dir = out_dir
        self.control = None
        self.commit = None
        self.offer = None
        self.entries = {}
        self.buffers = {}
        self.received = {}
        self.announced = {}
        self.verified = {}
        self.stored = 0
        self.stored_reported = 0
        self.done = asyncio.Event()
        self.failure = None

    def send(self, msg: dict) -> None:
        self.control.send(json.dumps(msg))

    def fail(self, why: str) -> None:
        self.failure = why
        if self.control is not None and self.control.readyState == "open":
            self.send({"type": "error", "message": why})
        self.done.set()

    def on_control(self, text) -> None:
        msg = json.loads(text)
        kind = msg["type"]
        if kind == "sas_commit":
            self.commit = msg["commit"]
            self.send({"type": "sas_nonce", "nonce": secrets.token_hex(32)})
        elif kind == "offer":
            self.offer = msg
        elif kind == "files":
            for entry in msg["entries"]:
                index, size = entry["index"], entry["size"]
                self.entries[index] = entry
                self.buffers[index] = bytearray(size)
                self.received[index] = 0
        elif kind == "sas_reveal":
            opened = blake3.blake3(msg["nonce"].encode(), derive_key_context=COMMIT_CONTEXT)
            if self.commit is None or opened.hexdigest() != self.commit.lower():
                self.fail("the revealed nonce does not open the commitment")
            elif self.offer is None or len(self.entries) != self.offer["file_count"]:
                self.fail("reveal before the whole offer")
            else:
                self.send({"type": "accept", "resume": []})
        elif kind == "file_done":
            self.announced[msg["index"]] = msg["blake3"]
            self.maybe_verify(msg["index"])
        elif kind in ("cancel", "error"):
            self.fail(f"sender sent {kind}: {msg}")

    def on_data(self, frame) -> None:
        if not isinstance(frame, bytes) or len(frame) < HEADER.size:
            return self.fail("malformed data frame")
        kind, index, offset = HEADER.unpack_from(frame)
        payload = frame[HEADER.size:]
        buffer = self.buffers.get(index)
        if kind != DATA_KIND or buffer is None or offset + len(payload) > len(buffer):
            return self.fail(f"data frame out of bounds: {index} @ {offset}")
        buffer[offset:offset + len(payload)] = payload
        self.received[index] += len(payload)
        self.stored += len(payload)
        if self.stored - self.stored_reported >= STORED_EVERY:
            self.report_stored()
        self.maybe_verify(index)

    def report_stored(self) -> None:
        self.stored_reported = self.stored
        self.send({"type": "stored", "bytes": self.stored})

    def maybe_verify(self, index: int) -> None:
        entry = self.entries.get(index)
        if entry is None or index in self.verified or index not in self.announced:
            return
        if self.received[index] < entry["size"]:
            return
        digest = blake3.blake3(bytes(self.buffers[index])).hexdigest()
        if digest != self.announced[index]:
            return self.fail(f"file {index}: hash mismatch")
        name = os.path.basename(entry["path"])
        with open(os.path.join(self.out_dir, name), "wb") as out:
            out.write(self.buffers[index])
        self.verified[index] = (name, digest)
        self.report_stored()
        self.send({"type": "file_ok", "index": index})
        if self.offer is not None and len(self.verified) == self.offer["file_count"]:
            self.done.set()


async def receive(url: str, out_dir: str, seconds: float) -> dict:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "v": 1, "name": "aiortc receiver", "kind": "cli"}))
        while True:
            msg = json.loads(await ws.recv())
            if msg["type"] == "welcome":
                print(json.dumps({"code": msg["code"]}), flush=True)
                break

        pc = RTCPeerConnection()
        receiver = Receiver(out_dir)
        control_closed = asyncio.Event()

        @pc.on("datachannel")
        def on_channel(channel):
            if channel.label == "peerdrop-control":
                receiver.control = channel
                channel.on("message", receiver.on_control)
                channel.on("close", control_closed.set)
            elif channel.label.startswith("peerdrop-data-"):
                channel.on("message", receiver.on_data)

        @pc.on("connectionstatechange")
        def on_state():
            if pc.connectionState == "failed":
                receiver.fail("connection failed")

        async def signalling():
            session = None
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] != "signal":
                    continue
                sender, data = msg["from"]["id"], msg["data"]
                if data["kind"] == "offer" and session is None:
                    session = data["session"]
                    await pc.setRemoteDescription(RTCSessionDescription(data["sdp"], "offer"))
                    await pc.setLocalDescription(await pc.createAnswer())
                    await ws.send(json.dumps({
                        "type": "signal", "to": sender,
                        "data": {"kind": "answer", "session": session, "sdp": pc.localDescription.sdp},
                    }))
                elif data["kind"] == "candidate" and data.get("candidate") and data["session"] == session:
                    candidate = candidate_from_sdp(data["candidate"].split(":", 1)[1])
                    candidate.sdpMid = data.get("sdp_mid")
                    candidate.sdpMLineIndex = data.get("sdp_mline_index")
                    await pc.addIceCandidate(candidate)

        listener = asyncio.create_task(signalling())
        try:
            await asyncio.wait_for(receiver.done.wait(), seconds)
            if receiver.failure is not None:
                return {"error": receiver.failure}
            # The sender closes first, once it has read every file_ok (docs/protocol.md).
            try:
                await asyncio.wait_for(control_closed.wait(), 2)
            except asyncio.TimeoutError:
                pass
            return {"files": dict(receiver.verified.values())}
        finally:
            listener.cancel()
            await pc.close()


def main() -> None:
    url, out_dir, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    report = asyncio.run(receive(url, out_dir, seconds))
    print(json.dumps(report), flush=True)
    sys.exit(0 if "files" in report else 1)


if __name__ == "__main__":
    main()
