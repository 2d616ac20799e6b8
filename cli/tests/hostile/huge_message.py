"""A hostile WebRTC peer (aiortc, not PeerDrop's code) for cli/tests/huge_message_before_prompt.rs.

It signs in to peerdrop-signal, offers a connection to the device with the given code, and as
soon as the control channel opens sends ONE control message of the given size, before any
verification phrase or offer. It lies about the receiver's `max-message-size` so its own stack
agrees to send. It prints one JSON line when the receiver closed the connection (or after the
time limit) and exits 0; anything unexpected exits non-zero.

Usage: huge_message.py WS_URL CODE BYTES SECONDS
"""

import asyncio
import json
import re
import sys
import uuid

import aioice.ice
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

# Tests talk to loopback only: gather host candidates on 127.0.0.1 and nothing else.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


def lie_about_max_message_size(sdp: str) -> str:
    return re.sub(r"a=max-message-size:\d+", "a=max-message-size:0", sdp)


async def attack(url: str, code: str, size: int, seconds: float) -> dict:
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "hello", "v": 1, "name": "huge message", "kind": "cli"}))
        await ws.send(json.dumps({"type": "resolve", "code": code}))
        target = None
        while target is None:
            msg = json.loads(await ws.recv())
            if msg["type"] == "resolved":
                target = msg["peer"]["id"]
            elif msg["type"] == "error":
                raise SystemExit(f"server error: {msg}")

        pc = RTCPeerConnection()
        control = pc.createDataChannel("peerdrop-control")
        pc.createDataChannel("peerdrop-data-0")
        result = {"sent": 0, "closed_by_receiver": False}
        opened = asyncio.Event()
        closed = asyncio.Event()
        control.on("open", opened.set)
        control.on("close", closed.set)

        @pc.on("connectionstatechange")
        def on_state():
            if pc.connectionState in ("closed", "failed"):
                closed.set()

        session = str(uuid.uuid4())
        await pc.setLocalDescription(await pc.createOffer())
        await ws.send(json.dumps({
            "type": "signal", "to": target,
            "data": {"kind": "offer", "session": session, "sdp": pc.localDescription.sdp},
        }))

        async def signalling():
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] == "peer_gone":
                    closed.set()
                if msg["type"] != "signal":
                    continue
                data = msg["data"]
                if data["kind"] == "answer":
                    answer = lie_about_max_message_size(data["sdp"])
                    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
                elif data["kind"] == "candidate" and data.get("candidate"):
                    candidate = candidate_from_sdp(data["candidate"].split(":", 1)[1])
                    candidate.sdpMid = data.get("sdp_mid")
                    candidate.sdpMLineIndex = data.get("sdp_mline_index")
                    await pc.addIceCandidate(candidate)
                elif data["kind"] == "bye":
                    closed.set()

        listener = asyncio.create_task(signalling())
        try:
            await asyncio.wait_for(opened.wait(), 20)
            control.send("a" * size)
            result["sent"] = size
            try:
                await asyncio.wait_for(closed.wait(), seconds)
                result["closed_by_receiver"] = True
            except asyncio.TimeoutError:
                pass
        finally:
            listener.cancel()
            await pc.close()
        return result


def main() -> None:
    url, code, size, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(asyncio.run(attack(url, code, size, seconds))), flush=True)


if __name__ == "__main__":
    main()
