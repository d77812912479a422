"""Hostile input for the script writer: ideas, script JSON, LLM answers and misbehaving OpenAI-protocol servers.

Whatever comes in, what comes out is a valid `Script` or one `MovieFactoryError` line; `timeout` is a deadline for
the whole script; a response format the server refused is never asked for again. The servers are real HTTP servers
on 127.0.0.1 (`llm_server.py`); the fuzzing is `hypothesis`, derandomized and bounded so the file runs in well
under a minute.
"""
from __future__ import annotations
import json, os, subprocess, sys, time, unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from moviefactory.core import MOODS, MovieFactoryError, Scene, Script, clean_text, parse_json
from moviefactory.script import (CAMERA_MOVES, OpenAIWriter, TemplateWriter, check_idea, normalise_sound, parse_script,
                                 script_table, write_script)
from llm_server import (LLAMA_CPP_500, LLMServer, Reply, completion, correct, error, llama_cpp, ok, raw,
                        script_answer)

BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ROOT = Path(__file__).resolve().parents[1]
IDEA = "a race between a car and an airplane"
FUZZ = settings(max_examples=int(os.environ.get("MOVIEFACTORY_FUZZ_EXAMPLES", 150)), derandomize=True, deadline=None,
                database=None, suppress_health_check=list(HealthCheck))


def writer(srv, **kw) -> OpenAIWriter:
    return OpenAIWriter(base_url=srv.url, model="test-model", **{"timeout": 5, "max_retries": 0, **kw})


def printable(text: str) -> bool:
    "Nothing a terminal would act on: no control characters (C0, C1, DEL), no escape, no lone surrogate."
    text.encode("utf-8")   # no lone surrogate: this raises on one
    return not any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in BIDI for ch in text)


def assert_clean(script: Script, n: int | None = None):
    "A script that is safe to save, load and print."
    assert n is None or len(script.scenes) == n
    for sc in script.scenes:
        assert sc.prompt and printable(sc.prompt) and printable(sc.camera) and printable(sc.sound)
    assert printable(script.idea) and script.mood in MOODS
    assert printable(script_table(script).replace("\n", " "))
    assert Script.from_json(script.to_json().encode("utf-8")) == script


def one_line(e: Exception) -> str:
    msg = str(e)
    assert msg and "\n" not in msg and "Traceback" not in msg and printable(msg), msg
    return msg


# --- misbehaving servers -----------------------------------------------------------------------------------------

def test_correct_server_one_request():
    with LLMServer(correct) as srv:
        s = writer(srv).write(IDEA, 4)
    assert_clean(s, 4)
    assert srv.formats == ["json_schema"] and s.backend == "openai"


def test_llama_cpp_steps_down_once():
    "llama-cpp-python 0.3.x: 500 on json_schema; json_object with the schema pinned gets the asked count."
    with LLMServer(llama_cpp) as srv:
        w = writer(srv)
        assert len(w.write(IDEA, 5).scenes) == 5
        assert len(w.write(IDEA, 3).scenes) == 3
    assert srv.formats == ["json_schema", "json_object", "json_object"]   # the refused format was asked for once
    assert srv.requests[1]["body"]["response_format"]["schema"]["properties"]["scenes"]["maxItems"] == 5


def test_refusing_every_format_ends_in_text():
    def picky(body):
        fmt = (body.get("response_format") or {}).get("type")
        return error(400, f"response_format {fmt} is not supported") if fmt else correct(body)
    with LLMServer(picky) as srv:
        w = writer(srv, max_retries=3)
        w.write(IDEA, 2); w.write(IDEA, 2)
    assert srv.formats == ["json_schema", "json_object", "text", "text"]


def test_500_not_naming_the_format_is_retried_not_stepped_down():
    calls = []
    def flaky(body):
        calls.append(1)
        return error(500, "upstream crashed") if len(calls) == 1 else correct(body)
    with LLMServer(flaky) as srv:
        writer(srv, max_retries=1).write(IDEA, 2)
    assert srv.formats == ["json_schema", "json_schema"]


def test_too_few_scenes_repaired_too_many_cut():
    replies = iter([ok(script_answer(2)), ok(script_answer(4))])
    with LLMServer(lambda body: next(replies)) as srv:
        assert len(writer(srv).write(IDEA, 4).scenes) == 4
    assert len(srv.requests) == 2 and "2 scenes but 4 were asked for" in srv.requests[1]["body"]["messages"][-1]["content"]
    with LLMServer(lambda body: ok(script_answer(7))) as srv:
        assert len(writer(srv).write(IDEA, 4).scenes) == 4
    assert len(srv.requests) == 1


def test_hostile_strings_are_sanitised():
    evil = {"prompt": "\x1b]0;owned\x07a red car\x1b[2J\x1b[H races \u202eenil\x9b31m, 4K", "camera": "FUTUREBEARINGA.COM/pan?x=1",
            "sound": "\x1b[31mengine\x1b[0m roar"}
    with LLMServer(lambda body: ok(script_answer(3, **evil))) as srv:
        s = writer(srv).write(IDEA, 3)
    assert_clean(s, 3)
    assert {sc.camera for sc in s.scenes} == {"static"} and {sc.sound for sc in s.scenes} == {"engine roar"}
    assert s.scenes[0].prompt == "a red car races enil, 4K"
    with LLMServer(lambda body: ok(script_answer(2, camera="Slow pan left.", sound="visit http://x.y/z"))) as srv:
        s = writer(srv).write(IDEA, 2)
    assert [(sc.camera, sc.sound) for sc in s.scenes] == [("pan left", "")] * 2


DEEP = b"[" * 100_000
HOSTILE = {   # name -> reply; each must end in one MovieFactoryError line naming the server
    "non-JSON 200": raw(b"<html><body>502 Bad Gateway</body></html>"),
    "empty body 200": raw(b""),
    "bad UTF-8 in the envelope": raw(b'\xff\xfe{"choices": \xc3\x28}'),
    "deep nesting in the envelope": raw(b'{"choices": ' + DEEP),
    "deep nesting, closed": raw(DEEP + b"]" * 100_000),
    "5,000-digit number": raw(b'{"created": ' + b"9" * 5000 + b', "choices": []}'),
    "NaN": raw(b'{"choices": NaN}'),
    "empty choices": raw(b'{"choices": []}'),
    "choices not a list": raw(b'{"choices": {"0": 1}}'),
    "choice not an object": raw(b'{"choices": ["hello"]}'),
    "message null": raw(b'{"choices": [{"message": null}]}'),
    "content a number": raw(json.dumps(completion(12)).encode()),
    "content an object": raw(json.dumps(completion({"scenes": []})).encode()),
    "an error object with 200": raw(b'{"error": {"message": "\x1b[2Jquota exceeded"}}'),
    "answer too large": raw(b'{"choices": [], "pad": "' + b"x" * 4_100_000 + b'"}'),
    "cut connection": Reply(body=json.dumps(completion(script_answer(2))).encode(), cut=True),
    "500 with a deep error body": raw(b'{"error": ' + DEEP, status=500),
    "500 with bad UTF-8": raw(b"\xff\xfe\xfd", status=500),
    "429 asking to wait a day": error(429, "slow down", headers={"Retry-After": "86400"}),
    "503 with a garbage Retry-After": error(503, "busy", headers={"Retry-After": "\x1b[2Jsoon"}),
    "302 elsewhere": raw(b"", status=302, headers={"Location": "http://example.com/"}),
    "401": error(401, "bad key"),
    "404": error(404, "no such model"),
    "refusal": raw(json.dumps(completion(None, refusal="I won't \x1b]0;x\x07")).encode()),
    "content with deep JSON": ok('{"scenes": ' + "[" * 100_000),
    "content with a 5,000-digit number": ok('{"scenes": [], "n": ' + "7" * 5000 + "}"),
    "content not JSON": ok("Sorry, I can't."),
    "content of wrong types": ok(json.dumps({"scenes": [{"prompt": 5, "camera": [], "sound": {}}], "mood": 3})),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_server_one_line(name):
    with LLMServer(lambda body: HOSTILE[name]) as srv:
        t0 = time.monotonic()
        with pytest.raises(MovieFactoryError) as e:
            writer(srv, max_retries=1, timeout=4).write(IDEA, 2)
        took = time.monotonic() - t0
    msg = one_line(e.value)
    assert srv.url in msg or "refused to write" in msg, msg
    assert took < 4.5, (name, took)


def test_bad_utf8_inside_content_is_replaced_not_fatal():
    body = json.dumps(completion(script_answer(2))).encode().replace(b"a red car", b"a red \xff\xfe car")
    with LLMServer(lambda b: raw(body)) as srv:
        s = writer(srv).write(IDEA, 2)
    assert_clean(s, 2)
    assert "\ufffd\ufffd" in s.scenes[0].prompt


def test_content_parts_are_read():
    parts = [{"type": "text", "text": script_answer(2)}]
    with LLMServer(lambda b: raw(json.dumps(completion(parts)).encode())) as srv:
        assert len(writer(srv).write(IDEA, 2).scenes) == 2


# --- deadlines ---------------------------------------------------------------------------------------------------

SLOW = {
    "body one byte a second": Reply(body=json.dumps(completion(script_answer(2))).encode(), drip=1.0),
    "headers one byte a second": Reply(body=json.dumps(completion(script_answer(2))).encode(), drip=1.0, drip_headers=True),
    "500s, retried until the deadline": error(500, "busy"),
}


@pytest.mark.parametrize("name", list(SLOW))
def test_timeout_is_a_deadline(name):
    with LLMServer(lambda body: SLOW[name]) as srv:
        t0 = time.monotonic()
        with pytest.raises(MovieFactoryError) as e:
            writer(srv, timeout=3, max_retries=10).write(IDEA, 2)
        took = time.monotonic() - t0
    one_line(e.value)
    assert took < 3.5, (name, took)
    assert "3s" in str(e.value), str(e.value)


def test_server_that_never_reads():
    "A listening socket nobody accepts from: connect succeeds, no answer ever comes."
    import socket
    sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(8)
    try:
        t0 = time.monotonic()
        with pytest.raises(MovieFactoryError, match="did not finish within 2s"):
            OpenAIWriter(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/v1", model="m", timeout=2).write(IDEA, 2)
        assert time.monotonic() - t0 < 2.5
    finally: sock.close()


# --- the command line, end to end --------------------------------------------------------------------------------

def run_cli(*args, timeout=60):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MOVIEFACTORY_PROGRESS": "0"}
    env.pop("MOVIEFACTORY_LLM", None); env.pop("MOVIEFACTORY_LLM_BASE_URL", None)
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "moviefactory.cli", "script", *args], env=env, capture_output=True, timeout=timeout)
    return r, time.monotonic() - t0


@pytest.mark.parametrize("name", ["body one byte a second", "non-JSON 200", "deep nesting in the envelope"])
def test_cli_one_line(name, tmp_path):
    reply = SLOW.get(name) or HOSTILE[name]
    out = tmp_path / "s.json"
    with LLMServer(lambda body: reply) as srv:
        r, took = run_cli(IDEA, "--llm", "openai", "--base-url", srv.url, "--model", "m", "--timeout", "3", "-o", str(out),
                          "--world", "any")
        after_asking = time.monotonic() - srv.requests[0]["time"]
    err = r.stderr.decode("utf-8", "replace")
    lines = [l for l in err.splitlines() if l.startswith("moviefactory: error:")]
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert not out.exists()
    # the deadline, counted from the request (starting Python on a busy machine can take longer than the deadline itself);
    # the drip would last minutes
    if name.startswith("body"): assert after_asking < 3 + 5, (after_asking, took)


def test_cli_idea_with_bad_bytes_and_escapes(tmp_path):
    "The command refuses an argument that is not UTF-8 with one line, and echoes none of its escape sequences raw."
    out = tmp_path / "s.json"
    r, _ = run_cli(b"a red car \xff races \x1b]0;owned\x07\x1b[2J a plane", "-n", "3", "--llm", "template", "-o", str(out))
    err = r.stderr.decode("utf-8", "replace")
    assert r.returncode == 2 and len(err.strip().splitlines()) == 1 and "not valid UTF-8" in err, err
    assert b"\x1b" not in r.stdout and b"\x1b" not in r.stderr and not out.exists()
    # through the API the same text is cleaned instead: U+FFFD for the bad byte, the escape sequences dropped
    s = write_script("a red car \udcff races \x1b]0;owned\x07\x1b[2J a plane", 3, llm="template")
    assert s.idea == "a red car \ufffd races a plane" and len(s.scenes) == 3


def test_auto_picks_template_without_a_server(monkeypatch, caplog):
    monkeypatch.delenv("MOVIEFACTORY_LLM", raising=False); monkeypatch.delenv("MOVIEFACTORY_LLM_BASE_URL", raising=False)
    import logging
    logging.getLogger("moviefactory").propagate = True
    try:
        with caplog.at_level(logging.INFO, logger="moviefactory.script"):
            s = write_script(IDEA, 2)
    finally: logging.getLogger("moviefactory").propagate = False
    assert s.backend == "template"
    assert any("script writer: template (--llm auto, and no LLM server is configured" in r.getMessage() for r in caplog.records)


# --- property-based fuzzing --------------------------------------------------------------------------------------

NASTY = ["\x1b[2J", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\", "\x9b31m", "\x00", "\r", "\u202e", "\udcff", "\ud800",
         "</idea>", '"}]}', "{", "\\", "\ufffd", "é", "🚗", "\u2028"]
texts = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=200),                 # any code point, surrogates too
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape")),           # argv bytes as Python sees them
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)), max_size=20).map("".join))


@FUZZ
@given(idea=texts, n=st.integers(1, 6))
def test_fuzz_ideas(idea, n):
    try: clean = check_idea(idea)
    except MovieFactoryError as e: one_line(e); return
    assert printable(clean)
    assert_clean(TemplateWriter().write(idea, n), n)


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
                           lambda kids: st.lists(kids, max_size=4) | st.dictionaries(texts, kids, max_size=4), max_leaves=12)
FIELDS = ["idea", "scenes", "mood", "backend", "prompt", "camera", "sound", "duration"]


@st.composite
def script_dicts(draw):
    "A valid script with some fields replaced by arbitrary JSON values."
    d = {"idea": "a car", "mood": "calm", "backend": "manual",
         "scenes": [{"prompt": "a red car, 4K", "camera": "static", "sound": "engine", "duration": 2.0} for _ in range(draw(st.integers(1, 3)))]}
    scenes = d["scenes"]
    for _ in range(draw(st.integers(0, 3))):
        key, value = draw(st.sampled_from(FIELDS)), draw(json_values)
        target = draw(st.sampled_from(scenes)) if key in ("prompt", "camera", "sound", "duration") else d
        target[key] = value
    return d


script_texts = st.one_of(script_dicts().map(json.dumps), json_values.map(json.dumps), texts,
                         st.binary(max_size=300), st.integers(1, 3000).map(lambda k: '{"idea": "x", "scenes": ' + "[" * k))


def loads_or_error(fn, *args):
    try: return fn(*args)
    except MovieFactoryError as e: one_line(e); return None


@FUZZ
@given(text=script_texts)
def test_fuzz_script_json(text):
    s = loads_or_error(Script.from_json, text)
    if s is not None: assert_clean(s)


@st.composite
def answers(draw):
    "A model's answer: a valid one with fields replaced, arbitrary JSON, or arbitrary text, maybe fenced and chatty."
    n = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["mutated", "json", "text"]))
    if kind == "text": return n, draw(texts)
    d = json.loads(script_answer(draw(st.integers(1, 5))))
    if kind == "json": d = draw(json_values)
    else:
        scenes = d["scenes"]
        for _ in range(draw(st.integers(0, 3))):
            sc = draw(st.sampled_from(scenes))
            key = draw(st.sampled_from(["prompt", "camera", "sound", "mood", "scenes"]))
            (d if key in ("mood", "scenes") else sc)[key] = draw(json_values)
    body = json.dumps(d, ensure_ascii=draw(st.booleans()))
    return n, draw(st.sampled_from(["{}", "Sure:\n```json\n{}\n```", "Here you go: {} Enjoy!"])).format(body)


@FUZZ
@given(case=answers())
def test_fuzz_llm_answers(case):
    n, text = case
    s = loads_or_error(parse_script, text, IDEA, n, "openai")
    if s is not None:
        assert_clean(s, n)
        assert all(sc.camera in CAMERA_MOVES and normalise_sound(sc.sound) == sc.sound for sc in s.scenes)


envelopes = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(completion(v)).encode()),
    answers().map(lambda c: json.dumps(completion(c[1])).encode()))


@pytest.fixture(scope="module")
def fuzz_server():
    box = {}
    with LLMServer(lambda body: box["reply"]) as srv:
        yield srv, box


@settings(FUZZ, max_examples=max(FUZZ.max_examples // 2, 10))
@given(body=envelopes, status=st.sampled_from([200, 200, 200, 400, 500]))
def test_fuzz_server_bodies(fuzz_server, body, status):
    srv, box = fuzz_server
    box["reply"] = raw(body, status=status)
    t0 = time.monotonic()
    s = loads_or_error(writer(srv, timeout=3).write, IDEA, 2)
    assert time.monotonic() - t0 < 3.5
    if s is not None: assert_clean(s, 2)


def test_parse_json_never_raises_anything_else():
    for bad in [b"\xff", "[" * 10**6, "1" * 10**5, "\"" + "x" * 10**6, "{\"a\": -" + "1" * 200 + "}", 12, None, "Infinity"]:
        try: parse_json(bad, "input")
        except MovieFactoryError as e: one_line(e)
