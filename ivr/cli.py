"""`ivr` command line. Every subcommand answers bad input with one line on stderr and a non-zero exit."""
from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

from config import IvrError, get_settings


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not usage + error
        self.exit(2, f"ivr: error: {message}\n")


def _rate(value: str) -> int:
    if value not in ("8000", "16000", "22050"):
        raise argparse.ArgumentTypeError(f"rate must be 8000, 16000 or 22050, not {value!r}")
    return int(value)


def cmd_transcribe(args) -> int:
    from asr import get_recognizer, load_audio

    audios = [(f, load_audio(f)) for f in args.files]  # decode all first: a bad file fails before model load
    model = args.model or (None if args.engine == "vosk" else get_settings().asr.live_model)
    rec = get_recognizer(args.engine, model)
    language = None if args.language == "auto" else args.language
    for name, audio in audios:
        t = rec.transcribe(audio, language=language, word_timestamps=args.json)
        if args.json:
            d = t.to_dict()
            print(json.dumps({"file": name, "text": d["text"], "language": d["language"],
                              "duration_s": d["duration_s"], "confidence": d["confidence"],
                              "words": d["words"]}, ensure_ascii=False), flush=True)
        else:
            print(t.text if len(audios) == 1 else f"{name}: {t.text}", flush=True)
    return 0


def _write_wav(path: str, pcm: bytes, rate: int) -> None:
    import numpy as np
    import soundfile as sf

    out = Path(path)
    if not out.parent.is_dir():
        raise IvrError(f"output directory does not exist: {out.parent}")
    sf.write(str(out), np.frombuffer(pcm, dtype="<i2"), rate, subtype="PCM_16", format="WAV")


def cmd_say(args) -> int:
    from tts import get_synthesizer

    if not args.text.strip():
        raise IvrError("nothing to say: TEXT is empty")
    synth = get_synthesizer(args.engine, args.voice, language=_language(args.language))
    _write_wav(args.output, synth.synthesize(args.text, args.rate), args.rate)
    return 0


def _language(code: str | None) -> str | None:
    """A --language given on the command line, checked against `languages` (settings)."""
    if code is not None and code not in get_settings().languages:
        raise IvrError(f"unknown language {code!r}: one of {', '.join(get_settings().languages)}")
    return code


def cmd_prompts_render(args) -> int:
    from tts import PromptCache, get_synthesizer, load_prompts
    from tts.prompt_cache import LINE_RATE, PLACEHOLDER

    s = get_settings()
    cache = PromptCache(s.data_dir, get_synthesizer(args.engine, args.voice, language=_language(args.language)),
                        LINE_RATE)
    start = time.perf_counter()
    static = {k: v for k, v in load_prompts(args.language).items() if not PLACEHOLDER.search(v)}  # filled-in vary
    paths = cache.render_all(static)
    print(f"{len(paths)} prompts ready in {cache.dir} ({time.perf_counter() - start:.1f} s)")
    return 0


def cmd_demo(args) -> int:
    """Speak a banking sentence over a simulated G.711 line and recognise it again."""
    import numpy as np
    import soundfile as sf

    from asr import get_recognizer
    from asr.audio import load_audio
    from tts import get_synthesizer, normalize

    text = "Your checking account ending 4321 has a balance of $2,450.75."
    synth = get_synthesizer()
    start = time.perf_counter()
    pcm = synth.synthesize(text, 8000)
    t_tts = time.perf_counter() - start
    line = Path(get_settings().data_dir) / "demo-ulaw.wav"
    line.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(line), np.frombuffer(pcm, dtype="<i2"), 8000, subtype="ULAW")  # the phone line's codec
    start = time.perf_counter()
    heard = get_recognizer().transcribe(load_audio(line))
    t_asr = time.perf_counter() - start
    print(f"IVR said   ({synth.engine}, {t_tts * 1000:.0f} ms): {normalize(text)}")
    print(f"ASR heard  (whisper live, {t_asr * 1000:.0f} ms, G.711 u-law 8 kHz): {heard.text}")
    print(f"audio: {line}")
    return 0


def cmd_nlu(args) -> int:
    from ivr.nlu import get_classifier

    if not args.text.strip():
        raise IvrError("nothing to classify: TEXT is empty")
    result = get_classifier(_language(args.language) or get_settings().languages[0]).classify(args.text, args.state)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        slots = " ".join(f"{k}={v}" for k, v in result.slots.items())
        print(f"{result.intent or '(no match)'} {result.confidence:.2f} {slots}".strip())
    return 0


def cmd_understand(args) -> int:
    """What a live call makes of each file in one state: the audio as the phone line gives it (8 kHz, 16-bit), the
    same recognizer and hints as `ivr serve` there, and the dialog's understanding of the words."""
    from asr import get_recognizer, load_audio
    from asr.audio import float_to_pcm16
    from ivr.app import get_app
    from telephony.audio_buffers import RATE as LINE_RATE   # what pjsua hands a call: 8 kHz, 16-bit

    app = get_app()
    if args.state not in app.flow.states:
        raise IvrError(f"unknown state {args.state!r}: one of {', '.join(sorted(app.flow.states))}")
    language = _language(args.language)
    lines = [(f, float_to_pcm16(load_audio(f, LINE_RATE))) for f in args.files]   # a bad file fails first
    session = app.new_session(None, language=language)
    session.ctx.state = args.state
    recognizer = get_recognizer(language=language)
    hints = session.hints(args.state) if recognizer.uses_hints(app.flow.states[args.state].expect) else None
    for name, pcm in lines:
        started = time.perf_counter()
        heard = recognizer.transcribe_pcm16(pcm, LINE_RATE, hints=hints or None, word_timestamps=False,
                                            fits=lambda text: session.understand(text).understood)
        u = session.understand(heard.text, heard.confidence)
        ms = round((time.perf_counter() - started) * 1000, 1)
        confidence = u.nlu.confidence if u.nlu is not None and u.kind in ("answer", "global", "request") \
            and u.nlu.intent == u.value else heard.confidence
        out = {"file": name, "text": heard.text, "intent": u.value, "confidence": round(confidence, 3),
               "slots": u.slots, "kind": u.kind, "asr_confidence": heard.confidence, "ms": ms}
        if args.json:
            print(json.dumps(out, ensure_ascii=False), flush=True)
        else:
            print(f"{name}: {heard.text!r} -> {u.value or '(not understood)'} {confidence:.2f}", flush=True)
    return 0


def cmd_chat(args) -> int:
    from ivr.app import get_app
    from ivr.chat import run_chat

    run_chat(get_app(), args.ani, sys.stdin, sys.stdout, sys.stderr, _language(args.language))
    return 0


def cmd_db_init(args) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from ivr.app import get_app
    from models.demo import seed_demo
    from models.migrate import upgrade

    app = get_app()
    try:
        upgrade(app.engine)
        if args.demo_calls and not args.demo:
            raise IvrError("--demo-calls seeds the demo bank's earlier calls: use it with --demo")
        added = seed_demo(app.sessions(), calls=args.demo_calls) if args.demo else 0
    except SQLAlchemyError as err:
        raise IvrError(f"database error: {str(err).splitlines()[0]}") from None
    url = app.engine.url.render_as_string(hide_password=True)
    print(f"schema up to date at {url}" + (f"; demo bank: {added} customers added" if args.demo else ""))
    return 0


def cmd_serve(args) -> int:
    import faulthandler

    import numpy as np

    faulthandler.enable(all_threads=True)  # a crash in native code (pjsua2, models) prints every thread's stack

    from asr import get_recognizer
    from ivr.app import get_app
    from monitoring import metrics
    from telephony.server import IvrServer, Services
    from tts import PromptCache, get_synthesizer, load_prompts
    from tts.prompt_cache import LINE_RATE

    settings = get_settings()
    app = get_app(settings)
    app.require_schema()
    app.flow, app.nlu  # validate the flow and load the NLU before the first call
    recognizer = get_recognizer()
    recognizer.transcribe(np.zeros(16000, np.float32), word_timestamps=False)  # warm the model
    synth = get_synthesizer()
    prompt_cache = PromptCache(settings.data_dir, synth, LINE_RATE)
    prompt_cache.warm_openings(load_prompts())
    node = settings.telephony.node or f"{socket.gethostname()}:{args.sip_port}"
    metrics.set_node(node)
    if closed := app.close_interrupted_calls(node):
        metrics.CALLS.labels(node, "interrupted").inc(closed)
        print(f"{closed} call(s) left open by an earlier crash of this endpoint closed as interrupted", flush=True)
    if kept := app.spool(node).recover():
        print(f"{kept} call(s) kept on local disk during a database outage are being written back", flush=True)
    services = Services(app, settings, recognizer, synth, prompt_cache, node, _other_languages(app, settings))
    server = IvrServer(services, args.host, args.sip_port)
    try:
        server.start()
    except Exception as err:  # noqa: BLE001 - pjsua2 reports a busy port etc. as pj.Error
        detail = err.info() if hasattr(err, "info") else str(err)
        raise IvrError(f"cannot start the SIP endpoint on {args.host}:{args.sip_port}: {detail}".splitlines()[0]) from None
    print(f"IVR listening on sip:{settings.telephony.user}@{args.host}:{args.sip_port} (UDP and TCP); "
          f"call it with: ivr call sip:{settings.telephony.user}@{args.host}:{args.sip_port} --ani +15550100 "
          f"--dtmf <PIN># --say 'what is my balance' (the demo customers' PINs are in the README; no PIN is "
          f"ever written to a log)", flush=True)
    server.run_forever()
    return 0


def _other_languages(app, settings) -> dict[str, tuple]:
    """The recognizer, voice and prompt cache of each language besides the default one, loaded and warmed before
    the first call (a Mandarin call must not wait for its models)."""
    import numpy as np

    from asr import get_recognizer
    from tts import PromptCache, get_synthesizer, load_prompts
    from tts.prompt_cache import LINE_RATE

    out = {}
    for code in settings.languages[1:]:
        app.language(code)   # its prompts, intents and the flow checked against them
        recognizer = get_recognizer(language=code)
        recognizer.transcribe(np.zeros(16000, np.float32), word_timestamps=False)
        synth = get_synthesizer(language=code)
        cache = PromptCache(settings.data_dir, synth, LINE_RATE)
        cache.warm_openings(load_prompts(code))
        out[code] = (recognizer, synth, cache)
    return out


def cmd_cluster(args) -> int:
    from ivr.cluster import run

    settings = get_settings()
    endpoints = args.endpoints or settings.cluster.endpoints
    if not 1 <= endpoints <= 64:
        raise IvrError(f"--endpoints must be 1..64, not {endpoints}")
    return run(settings, endpoints, args.sip_port or settings.cluster.sip_port, args.allow_sqlite, args.demo,
               args.dry_run)


def _analyzer(args=None):
    from analytics.worker import Analyzer
    from ivr.app import get_app

    app = get_app()
    app.require_schema()
    return app, Analyzer(app.sessions, app.settings)


def cmd_analyze(args) -> int:
    import signal
    import threading

    from analytics.worker import lower_priority

    if sum(bool(x) for x in (args.call_ids, args.all, args.follow)) != 1:
        raise IvrError("say what to analyse: CALL_ID..., --all or --follow")
    app, analyzer = _analyzer()
    lower_priority(app.settings.analytics.nice)
    if args.follow:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        print(f"analyzer {analyzer.worker_id} following ended calls at "
              f"{app.engine.url.render_as_string(hide_password=True)}", flush=True)
        try:
            analyzer.follow(stop)
        except KeyboardInterrupt:
            pass
        return 0
    from sqlalchemy import select

    from models import Call

    with app.sessions() as s:
        ids = list(args.call_ids) if args.call_ids else list(s.scalars(select(Call.id).where(Call.ended_at.is_not(None))))
        known = set(s.scalars(select(Call.id).where(Call.id.in_(ids), Call.ended_at.is_not(None))))
    if missing := [i for i in ids if i not in known]:
        raise IvrError(f"no ended call {missing[0]}")
    analyzer.requeue(ids)
    if args.all:
        from tqdm import tqdm

        with tqdm(total=len(ids), unit="call", desc="analysing", file=sys.stderr) as bar:
            analyzer.drain(set(ids), progress=lambda _id: bar.update(1))
    else:
        analyzer.drain(set(ids))
    return _report_analyses(app, ids)


def _report_analyses(app, ids: list[int], as_json: bool = False, files: list[str] | None = None) -> int:
    from sqlalchemy import select

    from models import Analysis

    with app.sessions() as s:
        jobs = {j.call_id: j for j in s.scalars(select(Analysis).where(Analysis.call_id.in_(ids)))}
    failed = 0
    for i, call_id in enumerate(ids):
        job = jobs.get(call_id)
        if as_json:
            print(json.dumps({"call_id": call_id, **({"file": files[i]} if files else {}),
                              "analysis": str(job.status) if job else "pending"}), flush=True)
        elif job is not None and job.status == "done":
            score = "n/a" if job.score is None else f"{job.score:g}" + (" AUTO-FAIL" if job.auto_failed else "")
            print(f"call {call_id}: analysed ({job.scorecard}: {score})", flush=True)
        else:
            print(f"call {call_id}: {job.status if job else 'pending'}" + (f" ({job.error})" if job and job.error else ""),
                  flush=True)
        failed += job is None or job.status != "done"
    if failed and not as_json:
        raise IvrError(f"{failed} of {len(ids)} analyses did not finish; they are retried by `ivr analyze --follow`")
    return 0


def cmd_import(args) -> int:
    from analytics.importer import import_files

    app, analyzer = _analyzer()
    ids = import_files(app.sessions, args.files, app.settings.data_dir / "recordings", args.customer_channel)
    analyzer.drain(set(ids))
    return _report_analyses(app, ids, as_json=args.json, files=args.files)


def cmd_offers(args) -> int:
    from analytics.offers import offer_report
    from analytics.report import parse_since
    from ivr.app import get_app
    from models import utcnow

    period = parse_since(args.since)
    app = get_app()
    app.require_schema()
    now = utcnow()
    with app.sessions() as s:
        report = offer_report(s, now - period, now, tuple(app.flow.tasks))
    if args.json:
        print(json.dumps({"since": args.since, **report}))
        return 0
    rate = "-" if report["acceptance"] is None else f"{report['acceptance']:.0%}"
    print(f"proactive offers in the last {args.since}: {report['offered']} made, {report['accepted']} accepted "
          f"({rate}), {report['declined']} declined, {report['turned_off']} turned offers off")
    for r in report["by_reason"]:
        print(f"  {r['reason']:<18} offered {r['offered']:>5}  accepted {r['accepted']:>5} ({r['acceptance']:.0%})")
    h = report["to_help"]
    for path in ("offer", "menu"):
        x = h[path]
        if x["calls"]:
            print(f"  to help via {'an offer' if path == 'offer' else 'the menu'}: {x['calls']} calls, "
                  f"{x['turns']} caller turns, {x['seconds']} s after identification")
    if h["saved"]:
        print(f"  saved per accepted offer: {h['saved']['turns']} turns, {h['saved']['seconds']} s")
    return 0


def cmd_topics(args) -> int:
    from analytics.report import parse_since, period_topics
    from analytics.topics import rank_topics
    from models import utcnow

    period = parse_since(args.since)
    app, analyzer = _analyzer()
    now = utcnow()
    with app.sessions() as s:
        current, previous = period_topics(s, now - period, now), period_topics(s, now - 2 * period, now - period)
    ranked = rank_topics(current, previous, analyzer.embedder)
    if args.json:
        print(json.dumps({"since": args.since, "calls": len(current), "previous_calls": len(previous),
                          "topics": [vars(t) for t in ranked]}))
        return 0
    print(f"{len(current)} analysed calls in the last {args.since} ({len(previous)} in the period before)")
    for t in ranked[: args.top]:
        change = "new" if t.change is None else f"{t.change:+.0%}"
        print(f"{t.count:5d}  {change:>6}  {t.kind:9}  {t.topic}" + (f"  ({', '.join(t.members[:3])})" if len(t.members) > 1 else ""))
    return 0


def cmd_calls_list(args) -> int:
    from analytics.report import list_calls, parse_since

    since = parse_since(args.since) if args.since else None
    app, _ = _analyzer()
    with app.sessions() as s:
        rows = list_calls(s, since, args.outcome, args.min_score)
    if args.json:
        print(json.dumps(rows))
        return 0
    for r in rows:
        score = "" if r["score"] is None else f"{r['score']:5.1f}"
        print(f"{r['id']:6d}  {r['started_at']}  {r['channel']:6}  {r['ani'] or '-':12}  {r['outcome'] or 'open':13}  "
              f"{r['analysis']:7}  {score}{' AUTO-FAIL' if r['auto_failed'] else ''}{' COMPLAINT' if r['complaint'] else ''}")
    return 0


def cmd_calls_show(args) -> int:
    from analytics.report import call_detail

    app, _ = _analyzer()
    with app.sessions() as s:
        detail = call_detail(s, args.call_id)
    if args.json:
        print(json.dumps(detail))
        return 0
    print(f"call {detail['id']} ({detail['channel']}, {detail['ani'] or 'no caller ID'}) {detail['started_at']} "
          f"{detail['duration_s']} s, {detail['outcome'] or 'open'}; analysis {detail['analysis']['status']}")
    for t in detail["turns"]:
        at = "" if t["start_s"] is None else f"{t['start_s']:7.2f}  "
        print(f"{at}{t['speaker']:6} {t['text']}")
    if detail["score"]:
        sc = detail["score"]
        print(f"score ({sc['scorecard']}): {sc['total']}{' AUTO-FAIL' if sc['auto_failed'] else ''}")
        for item in sc["items"]:
            print(f"  {item['answer']:3} {item['earned']:g}/{item['possible']:g}  {item['question']}")
    return 0


def _user_sessions():
    from ivr.app import get_app

    app = get_app()
    app.require_schema()
    return app


def _read_password(from_stdin: bool) -> str:
    import getpass

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise IvrError("no terminal to ask for the password: pass it on stdin with --password-stdin")
    first = getpass.getpass("Password (12+ characters): ")
    if first != getpass.getpass("Again: "):
        raise IvrError("the two passwords differ")
    return first


def cmd_users_add(args) -> int:
    from web.auth import add_user, check_name_and_role

    app = _user_sessions()
    check_name_and_role(args.name, args.role)                  # first: no password asked in vain
    password = _read_password(args.password_stdin)
    with app.sessions.begin() as s:
        add_user(s, args.name, args.role, password)
    print(f"user {args.name} added ({args.role})")
    return 0


def cmd_users_list(args) -> int:
    from sqlalchemy import select

    from models import User

    app = _user_sessions()
    with app.sessions() as s:
        for u in s.scalars(select(User).order_by(User.name)):
            print(f"{u.name:24} {u.role:10} {'disabled' if u.disabled else 'active'}")
    return 0


def cmd_users_bootstrap(args) -> int:
    """On a database with no console user: one admin with a random password, printed once."""
    import secrets

    from sqlalchemy import func, select

    from models import User
    from web.auth import add_user

    app = _user_sessions()
    with app.sessions.begin() as s:
        if s.scalar(select(func.count(User.id))):
            return 0
        password = secrets.token_urlsafe(15)
        add_user(s, "admin", "admin", password)
    print(f"console admin created: user admin, password {password}  (shown once; add users at /users)")
    return 0


def cmd_web(args) -> int:
    import uvicorn

    from web import create_app

    app = _user_sessions()
    console = create_app(app.settings, app.sessions)
    print(f"console at http://{args.host}:{args.port}/ (sign in; API reference at /api/docs)", flush=True)
    try:
        uvicorn.run(console, host=args.host, port=args.port, log_level="warning", access_log=False, log_config=None,
                    proxy_headers=False, server_header=False, timeout_graceful_shutdown=5)
    except SystemExit as exit_:
        raise IvrError(f"cannot serve the console on {args.host}:{args.port} (is the port in use?)") from None \
            if exit_.code else exit_
    return 0


class _StepAction(argparse.Action):
    """Keeps --say/--dtmf/--play/--wait in the order given."""

    def __call__(self, parser, namespace, value, option_string=None):
        kind = option_string.lstrip("-")
        if kind == "dtmf" and (not value or not set(value) <= set("0123456789*#ABCD")):
            parser.error(f"--dtmf takes phone keys 0-9 * #, not {value!r}")
        if kind == "wait":
            try:
                if not 0 <= float(value) <= 600:
                    raise ValueError
            except ValueError:
                parser.error(f"--wait takes seconds (0-600), not {value!r}")
        if kind == "play" and not Path(value).is_file():
            parser.error(f"--play: no such file: {value}")
        namespace.steps = [*(namespace.steps or []), (kind, value)]


def cmd_call(args) -> int:
    from asr import get_recognizer
    from telephony.softphone import Softphone, Step

    if not args.uri.startswith(("sip:", "sips:")) or "@" not in args.uri:
        raise IvrError(f"not a SIP URI: {args.uri!r} (expected sip:user@host[:port])")
    settings = get_settings()
    language = _language(args.language)
    phone = Softphone(settings, args.ani, language)
    steps = phone.run(args.uri, [Step(k, v) for k, v in (args.steps or [])], timeout=args.timeout)
    if args.record:
        phone.recorder.write(Path(args.record))
    prompts = [] if args.no_transcribe else phone.heard_prompts(get_recognizer(language=language))
    if args.json:
        print(json.dumps({"uri": args.uri, "ani": args.ani, "status": phone.status, "steps": steps,
                          "prompts": prompts}, ensure_ascii=False))
    else:
        for p in prompts:
            print(f"IVR: {p['text']}")
        print(f"END: {phone.status or 'hung up'}")
    return 0


def _port(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}")
    return int(value)


def _call_id(value: str) -> int:
    if not value.isdigit() or int(value) == 0:
        raise argparse.ArgumentTypeError(f"not a call id: {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ivr", description="Phone-banking voice IVR")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("transcribe", help="speech to text for audio files")
    t.add_argument("files", nargs="+", metavar="FILE")
    t.add_argument("--engine", choices=["whisper", "vosk"], default=None)
    t.add_argument("--model", help="live | accurate | path to a model directory")
    t.add_argument("--language", default=None, help="language code, or auto (multilingual models)")
    t.add_argument("--json", action="store_true", help="one JSON object per file, with word timings")
    t.set_defaults(func=cmd_transcribe)

    s = sub.add_parser("say", help="text to speech into a WAV file")
    s.add_argument("text", metavar="TEXT")
    s.add_argument("-o", "--output", required=True, metavar="OUT.wav")
    s.add_argument("--engine", choices=["piper", "espeak", "edge", "kokoro"], default=None)
    s.add_argument("--voice", default=None)
    s.add_argument("--rate", type=_rate, default=8000)
    s.add_argument("--language", default=None, help="the voice of this language (tts.languages), e.g. zh")
    s.set_defaults(func=cmd_say)

    pr = sub.add_parser("prompts", help="prompt cache")
    prs = pr.add_subparsers(dest="action", required=True, parser_class=_Parser)
    r = prs.add_parser("render", help="render config/prompts into the on-disk prompt cache")
    r.add_argument("--engine", choices=["piper", "espeak", "edge", "kokoro"], default=None)
    r.add_argument("--voice", default=None)
    r.add_argument("--language", default="en")
    r.set_defaults(func=cmd_prompts_render)

    n = sub.add_parser("nlu", help="intent and slots for one caller utterance")
    n.add_argument("text", metavar="TEXT")
    n.add_argument("--state", default=None, help="dialog state; 'confirm' adds yes/no")
    n.add_argument("--json", action="store_true")
    n.add_argument("--language", default=None, help="the intents of this language (default: the first of languages)")
    n.set_defaults(func=cmd_nlu)

    u = sub.add_parser("understand", help="what a live call makes of recorded utterances in one dialog state")
    u.add_argument("files", nargs="+", metavar="FILE")
    u.add_argument("--state", default="main_menu", help="dialog state (default main_menu)")
    u.add_argument("--json", action="store_true", help="one JSON object per file")
    u.add_argument("--language", default=None, help="hear and understand this language (e.g. zh)")
    u.set_defaults(func=cmd_understand)

    c = sub.add_parser("chat", help="a text-mode call on stdin")
    c.add_argument("--ani", default=None, help="caller ID, e.g. +15550100")
    c.add_argument("--language", default=None, help="serve the call in this language (e.g. zh), as its number would")
    c.set_defaults(func=cmd_chat)

    db = sub.add_parser("db", help="database")
    dbs = db.add_subparsers(dest="action", required=True, parser_class=_Parser)
    di = dbs.add_parser("init", help="create or upgrade the schema")
    di.add_argument("--demo", action="store_true", help="seed the demo bank")
    di.add_argument("--demo-calls", action="store_true",
                    help="with --demo: also the earlier calls of the proactive-service scenarios (Dan Ortiz's "
                         "complaint, Lucy Park's unfinished transfer)")
    di.set_defaults(func=cmd_db_init)

    sv = sub.add_parser("serve", help="run the SIP endpoint")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--sip-port", type=_port, default=5060)
    sv.set_defaults(func=cmd_serve)

    cu = sub.add_parser("cluster", help="Kamailio + N endpoints + analyzer + console on this host (supervisord)")
    cu.add_argument("--endpoints", type=int, default=None, metavar="N", help="endpoint processes (cluster.endpoints)")
    cu.add_argument("--sip-port", type=_port, default=None, help="Kamailio's public SIP port (cluster.sip_port)")
    cu.add_argument("--allow-sqlite", action="store_true", help="several endpoints on one SQLite file (writers wait)")
    cu.add_argument("--demo", action="store_true", help="seed the demo bank (as `ivr db init --demo`)")
    cu.add_argument("--dry-run", action="store_true", help="render the configuration, print it and exit")
    cu.set_defaults(func=cmd_cluster)

    cl = sub.add_parser("call", help="call the IVR with a real SIP softphone and print what it heard")
    cl.add_argument("uri", metavar="SIP_URI")
    cl.add_argument("--ani", default=None, help="caller ID to present (From user)")
    for opt, meta in (("--say", "TEXT"), ("--dtmf", "DIGITS"), ("--play", "WAV"), ("--wait", "SECONDS")):
        cl.add_argument(opt, action=_StepAction, metavar=meta, dest="steps")
    cl.add_argument("--record", metavar="OUT.wav", help="stereo: caller left, IVR right")
    cl.add_argument("--timeout", type=float, default=180.0)
    cl.add_argument("--no-transcribe", action="store_true", help="do not transcribe what was heard (load tests)")
    cl.add_argument("--json", action="store_true")
    cl.add_argument("--language", default=None, help="the caller speaks (--say) and hears this language, e.g. zh")
    cl.set_defaults(func=cmd_call)

    an = sub.add_parser("analyze", help="post-call analytics: transcript, redaction, sentiment, metrics, score")
    an.add_argument("call_ids", nargs="*", type=_call_id, metavar="CALL_ID")
    an.add_argument("--all", action="store_true", help="(re-)analyse every ended call, with a progress bar")
    an.add_argument("--follow", action="store_true", help="keep analysing calls as they end (the analyzer worker)")
    an.set_defaults(func=cmd_analyze)

    im = sub.add_parser("import", help="store and analyse recordings of human-agent calls")
    im.add_argument("files", nargs="+", metavar="FILE")
    im.add_argument("--customer-channel", choices=["left", "right"], default="left")
    im.add_argument("--json", action="store_true", help='one {"call_id": N} object per file')
    im.set_defaults(func=cmd_import)

    of = sub.add_parser("offers", help="proactive offers: made, accepted, and the turns and seconds they saved")
    of.add_argument("--since", default="7d", help="period: 30m, 12h, 7d, 2w (default 7d)")
    of.add_argument("--json", action="store_true")
    of.set_defaults(func=cmd_offers)

    tp = sub.add_parser("topics", help="hot topics and complaint subjects, ranked, against the period before")
    tp.add_argument("--since", default="7d", help="period: 30m, 12h, 7d, 2w (default 7d)")
    tp.add_argument("--top", type=int, default=20)
    tp.add_argument("--json", action="store_true")
    tp.set_defaults(func=cmd_topics)

    ca = sub.add_parser("calls", help="stored calls")
    cas = ca.add_subparsers(dest="action", required=True, parser_class=_Parser)
    cls_ = cas.add_parser("list", help="calls, newest first")
    cls_.add_argument("--since", default=None, help="period: 30m, 12h, 7d, 2w")
    cls_.add_argument("--outcome", choices=["completed", "transferred", "caller_hangup", "failed", "interrupted"])
    cls_.add_argument("--min-score", type=float, default=None)
    cls_.add_argument("--json", action="store_true")
    cls_.set_defaults(func=cmd_calls_list)
    csh = cas.add_parser("show", help="one call: transcript (redacted), sentiment, metrics, score")
    csh.add_argument("call_id", type=_call_id, metavar="CALL_ID")
    csh.add_argument("--json", action="store_true")
    csh.set_defaults(func=cmd_calls_show)

    us = sub.add_parser("users", help="console users")
    uss = us.add_subparsers(dest="action", required=True, parser_class=_Parser)
    ua = uss.add_parser("add", help="add a console user (asks for the password)")
    ua.add_argument("name", metavar="NAME")
    ua.add_argument("--role", required=True, choices=["admin", "supervisor", "qa"])
    ua.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    ua.set_defaults(func=cmd_users_add)
    ul = uss.add_parser("list", help="console users and their roles")
    ul.set_defaults(func=cmd_users_list)
    ub = uss.add_parser("bootstrap", help="on a database without users: one admin with a random password, shown once")
    ub.set_defaults(func=cmd_users_bootstrap)

    w = sub.add_parser("web", help="the supervisor / QA web console")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=_port, default=8000)
    w.set_defaults(func=cmd_web)

    d = sub.add_parser("demo", help="speak a sentence over a simulated phone line and transcribe it back")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    from sqlalchemy.exc import InterfaceError, OperationalError

    import monitoring

    args = build_parser().parse_args(argv)
    if args.command in ("serve", "analyze", "web"):
        import faulthandler
        import signal

        from ivr.memory import limit_malloc_arenas

        limit_malloc_arenas()
        faulthandler.register(signal.SIGUSR1, all_threads=True)   # `kill -USR1 <pid>`: every thread's stack to stderr
    try:
        monitoring.setup(args.command, get_settings())   # logs (IVR_LOG_LEVEL, text or JSON) and /metrics
        if args.command == "transcribe" and args.language is None:
            args.language = get_settings().asr.language
        return args.func(args)
    except IvrError as err:
        print(f"ivr: error: {err}", file=sys.stderr)
        return 1
    except (OperationalError, InterfaceError) as err:   # the database cannot be reached: one line, not a trace
        print(f"ivr: error: the database is unavailable: {str(err.orig or err).splitlines()[0]}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
