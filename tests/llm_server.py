"""A misbehaving OpenAI-protocol server for the fault tests: real HTTP on 127.0.0.1, an ephemeral port, bounded.

`LLMServer(reply)` answers every POST /v1/chat/completions with `reply(request_body)`, a `Reply`. The helpers below
make the replies the tests need: a correct script of the asked scene count, raw bytes, a body dripped one byte at a
time (headers too, if asked), a connection cut mid-body, and a llama-cpp-python look-alike that refuses
`response_format: json_schema` with HTTP 500 the way its 0.3.x server does. Every request is recorded. Drips stop
when the server closes or the client goes away, so no thread outlives a test by more than one drip interval.
"""
from __future__ import annotations
import http.server, json, re, socket, sys, threading, time
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    drip: float = 0.0            # seconds between bytes of the body (0: all at once)
    drip_headers: bool = False   # drip the status line and headers too
    cut: bool = False            # announce the whole body, send half, close


def completion(content, refusal=None, finish="stop") -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "test-model",
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}]}


def script_answer(n: int, mood: str = "energetic", **scene) -> str:
    "A valid script answer of `n` scenes as a model writes it; `scene` overrides fields of every scene."
    return json.dumps({"scenes": [{"prompt": f"scene {i + 1}: a red car speeds along a coastal road, 4K",
                                   "camera": "tracking shot", "sound": "engine roar", **scene} for i in range(n)],
                       "mood": mood})


def asked_scenes(body: dict) -> int:
    "The scene count a request asks for (from the user message), 1 if it cannot be read."
    for m in body.get("messages", []):
        hit = re.search(r"Write exactly (\d+) scene", str(m.get("content", "")))
        if hit: return int(hit.group(1))
    return 1


def ok(content: str | None = None) -> Reply:
    return Reply(body=json.dumps(completion(content)).encode())


def raw(body: bytes, status: int = 200, **kw) -> Reply:
    return Reply(status=status, body=body, **kw)


def error(status: int, message, **kw) -> Reply:
    return Reply(status=status, body=json.dumps({"error": {"message": message, "type": "server_error"}}).encode(), **kw)


def correct(body: dict) -> Reply:
    "What a good server answers: a valid script of the asked scene count."
    return ok(script_answer(asked_scenes(body)))


LLAMA_CPP_500 = ("[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                 "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
                 "'ctx': {'expected': \"'text' or 'json_object'\"}}]")


def llama_cpp(body: dict) -> Reply:
    """Like llama-cpp-python's server 0.3.x: HTTP 500 for `json_schema`; with `json_object` it follows the schema
    beside it (the scene count included, if the schema pins it, else it writes 2 scenes, as the issue saw)."""
    fmt = body.get("response_format") or {}
    if fmt.get("type") not in (None, "text", "json_object"):
        return error(500, LLAMA_CPP_500)
    scenes = (fmt.get("schema") or {}).get("properties", {}).get("scenes", {})
    return ok(script_answer(scenes.get("minItems", 2) if fmt else asked_scenes(body)))


class LLMServer:
    "A real HTTP server on 127.0.0.1 answering chat completions with `reply(body)`; records requests."
    def __init__(self, reply=correct):
        self.reply, self.requests, self.closing = reply, [], threading.Event()

    def __enter__(self):
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def log_message(self, *args): pass

            def _send(self, data: bytes, drip: float) -> bool:
                "Write `data`, one byte every `drip` seconds if set; False once the server closes."
                if not drip:
                    self.wfile.write(data); self.wfile.flush(); return True
                for i in range(len(data)):
                    if srv.closing.wait(drip): return False
                    self.wfile.write(data[i:i + 1]); self.wfile.flush()
                return True

            def do_POST(self):
                try: body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                except ValueError: body = {}
                srv.requests.append({"body": body, "time": time.monotonic(),
                                     "format": (body.get("response_format") or {}).get("type", "text")})
                r = srv.reply(body)
                head = [f"HTTP/1.1 {r.status} {'OK' if r.status == 200 else 'Error'}"]
                head += [f"{k}: {v}" for k, v in {"Content-Type": "application/json",
                                                   "Content-Length": str(len(r.body)), **r.headers}.items()]
                try:
                    if not self._send(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"), r.drip if r.drip_headers else 0): return
                    if r.cut:
                        self._send(r.body[:len(r.body) // 2], 0)
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self._send(r.body, r.drip)
                except (BrokenPipeError, ConnectionResetError, OSError): self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads, self.httpd.block_on_close = True, False
        loud = self.httpd.handle_error
        def handle_error(request, client_address):    # a client that gave up (a deadline) is expected, not a traceback on stderr
            if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)): loud(request, client_address)
        self.httpd.handle_error = handle_error
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.closing.set(); self.httpd.shutdown(); self.httpd.server_close()

    @property
    def url(self) -> str: return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def formats(self) -> list[str]: return [r["format"] for r in self.requests]
