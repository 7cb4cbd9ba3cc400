"""faster-whisper (CTranslate2) recognizer.

Live turns are short, and Whisper's encoder costs the same for 1 s as for 30 s of audio when it is padded to
30 s as usual (~500 ms for tiny.en on 2 CPU cores). Utterances up to 29 s are therefore encoded in a window
only as long as needed (at least `min_window_s`, zero-padded so the model still sees trailing silence), and
decoded with timestamp tokens, which let the model close the segment. A decode that runs away (repetition,
no end token) is redone on the standard 30 s path, as is any longer audio.
"""
from __future__ import annotations

import math
import re
import zlib

import ctranslate2
import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer

from .audio import ASR_RATE
from .recognizer import Recognizer, Transcript, Word

MAX_SHORT_S = 29.0
NO_SPEECH_THRESHOLD = 0.6
SILENT_RMS = 10 ** (-70 / 20)   # quieter than a phone line's hiss: nothing to recognise (Whisper may say "you")


def pick_device(device: str, compute_type: str) -> tuple[str, str]:
    """`auto`: CUDA with float16 when a GPU is visible, else CPU with int8."""
    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


_SPOKEN_DIGITS = re.compile(r"\b(zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)\b|\d", re.I)


def _runaway(text: str, finished: bool) -> bool:
    """A decode that hit its token budget, or text that repeats itself (compresses too well). Spoken digits
    repeat legitimately ("ending in one one one one") and are left out of the check: redoing such a turn on
    the 30 s path cost a second."""
    data = _SPOKEN_DIGITS.sub("", text).encode()
    return not finished or (len(data) > 24 and len(data) / len(zlib.compress(data)) > 2.4)


def _tokens_within(ids: list[int], tok: Tokenizer, duration: float) -> list[int]:
    """Text tokens of the segments that start inside the real audio: the zero padding after it can make the
    model invent a further segment (often a repeat), and its timestamp gives it away."""
    out: list[int] = []
    for t in ids:
        if t >= tok.timestamp_begin:
            if (t - tok.timestamp_begin) * 0.02 >= duration - 0.1:
                break
        elif t < tok.eot:
            out.append(t)
    return out


def _first_of_repeats(ids: list[int]) -> list[int]:
    """Text tokens up to the end of their first run of repeats ("Agent. Agent. Agent." -> "Agent."). After the
    state's phrases as previous text, Whisper decodes without timestamps and may say the utterance again into
    the silent padding until its budget runs out; said twice by the caller, it means the same at a menu."""
    n, best = len(ids), None          # (start of the repeating tail, its period): the earliest, then the shortest
    for period in range(1, n // 2 + 1):
        start = n - period            # walk back while each token equals the one a period later
        while start > 0 and ids[start - 1] == ids[start - 1 + period]:
            start -= 1
        if n - start >= 2 * period and (best is None or start < best[0]):
            best = (start, period)
    return ids if best is None else ids[:best[0] + best[1]]


def _merge_punctuation(words: list[Word]) -> list[Word]:
    """Attach tokens that are only punctuation to the word before them, as faster-whisper does."""
    out: list[Word] = []
    for w in words:
        if out and w.word and all(not c.isalnum() for c in w.word):
            out[-1].word += w.word
        elif w.word:
            out.append(w)
    return out


def simplified(text: str, language: str) -> str:
    """Chinese in simplified characters (Whisper writes traditional ones at times: 帳戶餘額 -> 账户余额)."""
    if language != "zh" or not text:
        return text
    from zhconv import convert

    return convert(text, "zh-cn")


class WhisperRecognizer(Recognizer):
    name = "whisper"

    def __init__(self, model_dir, device="auto", compute_type="auto", cpu_threads=2, workers=1,
                 language="en", min_window_s=10.0, prompt_kinds=(), forced_language=None):
        super().__init__(workers)
        self.device, self.compute_type = pick_device(device, compute_type)
        self.model = WhisperModel(str(model_dir), device=self.device, compute_type=self.compute_type,
                                  cpu_threads=cpu_threads, num_workers=workers)
        self.multilingual = self.model.model.is_multilingual
        self.default_language = language if self.multilingual else "en"
        self.min_window_s = min_window_s
        self.prompt_kinds = set(prompt_kinds)  # states whose hints become previous text (asr.whisper_prompt_hints)
        self.forced_language = forced_language  # a call's language: never detected (a Mandarin call says "OK")
        if forced_language and not self.multilingual:
            raise ValueError(f"model {model_dir} is English-only: it cannot recognise {forced_language!r}")

    def uses_hints(self, kind: str) -> bool:
        return kind in self.prompt_kinds

    def transcribe(self, audio, hints=None, language=None, word_timestamps=True, fits=None) -> Transcript:
        return self.transcribe_many([audio], hints, language, word_timestamps, fits)[0]

    def transcribe_many(self, audios: list[np.ndarray], hints=None, language=None,
                        word_timestamps=True, fits=None) -> list[Transcript]:
        """Recognise several utterances in one batch (one encoder and decoder pass on a GPU)."""
        language = language or self.forced_language or (None if self.multilingual else "en")
        results: list[Transcript | None] = [None] * len(audios)
        for i, a in enumerate(audios):
            if len(a) and float(np.sqrt(np.mean(np.square(a, dtype=np.float64)))) < SILENT_RMS:
                results[i] = Transcript("", language or self.default_language, round(len(a) / ASR_RATE, 3), 0.0, [])
        short = [i for i, a in enumerate(audios) if results[i] is None and 0 < len(a) <= MAX_SHORT_S * ASR_RATE]
        if short:
            decoded = self._decode_short([audios[i] for i in short], hints, language, word_timestamps, fits)
            for i, t in zip(short, decoded):
                results[i] = t
        for i, audio in enumerate(audios):
            if results[i] is None:
                results[i] = self._decode_long(audio, language, word_timestamps)
        return results

    def _tokenizer(self, language: str) -> Tokenizer:
        return Tokenizer(self.model.hf_tokenizer, self.multilingual, task="transcribe", language=language)

    def _decode_short(self, audios, hints, language, word_timestamps, fits) -> list[Transcript | None]:
        """Open transcription first; an utterance whose words mean nothing in the dialog state (`fits` is false)
        is decoded again from the same encoding with the state's phrases as previous text, and that reading is
        kept if it fits. Most turns pay nothing for the hints; a misheard command gets a second chance."""
        longest = max(len(a) for a in audios) / ASR_RATE
        window = min(30.0, max(longest + 1.0, self.min_window_s))
        padded = np.zeros((len(audios), int(window * ASR_RATE)), np.float32)
        for row, a in zip(padded, audios):
            row[: len(a)] = a
        feats = np.stack([self.model.feature_extractor(row, padding=0) for row in padded])
        feats = np.ascontiguousarray(feats[:, :, : min(3000, feats.shape[2] // 2 * 2)])
        enc = self.model.model.encode(ctranslate2.StorageView.from_array(feats), to_cpu=False)

        if language is None:
            detected = self.model.model.detect_language(enc)
            langs = [d[0][0][2:-2] for d in detected]
        else:
            langs = [language] * len(audios)
        toks = [self._tokenizer(lang) for lang in langs]
        prev = []
        if hints:   # as sentences ("Branch hours. Agent."): a comma list makes Whisper answer in a list, "agent, "
            phrases = " ".join(h[:1].upper() + h[1:] + "." for h in hints)
            prev = [toks[0].sot_prev] + toks[0].encode(" " + phrases)[-200:]
        if fits is None:    # nothing to check a reading against: the hints are used at once
            return self._decode(enc, feats, audios, toks, prev, word_timestamps)
        results = self._decode(enc, feats, audios, toks, [], word_timestamps)
        again = [i for i, r in enumerate(results) if prev and r is not None and not fits(r.text)]
        if again:
            enc_again = enc if len(audios) == 1 else self.model.model.encode(
                ctranslate2.StorageView.from_array(np.ascontiguousarray(feats[again])), to_cpu=False)
            second = self._decode(enc_again, feats[again], [audios[i] for i in again], [toks[i] for i in again],
                                  prev, word_timestamps)
            for i, t in zip(again, second):
                if t is not None and fits(t.text):
                    results[i] = t
        return results

    def _decode(self, enc, feats, audios, toks, prev, word_timestamps) -> list[Transcript | None]:
        """Greedy decoding of encoded utterances; None for one that ran away (redone on the 30 s path)."""
        longest = max(len(a) for a in audios) / ASR_RATE
        # After previous text Whisper rarely emits timestamps: decode without them and cut its repeats instead
        prompts = [prev + list(t.sot_sequence) + ([t.no_timestamps] if prev else []) for t in toks]
        # Speech is < ~8 tokens/s with timestamps (~5 without): a longer decode is the model inventing text in
        # the padding.
        budget = min(448 - len(prompts[0]), int(12 + 6 * longest) if prev else int(24 + 10 * longest))
        # ctranslate2 4.x crashes (SIGSEGV) computing the no-speech probability after a previous-text prompt
        no_speech = not prev
        out = self.model.model.generate(
            enc, prompts, beam_size=1, max_length=len(prev) + budget, return_scores=True,   # previous text counts
            return_no_speech_prob=no_speech, suppress_blank=True, suppress_tokens=[-1], max_initial_timestamp_index=50,
        )
        results: list[Transcript | None] = []
        for i, (res, tok, audio) in enumerate(zip(out, toks, audios)):
            ids = res.sequences_ids[0]
            duration = len(audio) / ASR_RATE
            text_tokens = _tokens_within(ids, tok, duration)
            if prev:
                text_tokens = _first_of_repeats(text_tokens)
            text = tok.decode(text_tokens).strip()
            finished = len(ids) < budget - 1 or (bool(prev) and len(text_tokens) < len(ids) // 2)
            if _runaway(text, finished):
                results.append(None)
                continue
            confidence = math.exp(res.scores[0]) if res.scores else 0.0
            if no_speech and res.no_speech_prob > NO_SPEECH_THRESHOLD and res.scores[0] < -1.0:
                text, text_tokens = "", []
            words = []
            if word_timestamps and text_tokens:
                enc_i = enc if len(audios) == 1 else self.model.model.encode(
                    ctranslate2.StorageView.from_array(feats[i : i + 1]), to_cpu=False)
                found = self.model.find_alignment(tok, [text_tokens], enc_i, int(duration * 100))[0]
                words = _merge_punctuation([Word(w["word"].strip(), round(float(w["start"]), 3),
                                                 round(min(float(w["end"]), duration), 3),
                                                 round(float(w["probability"]), 3)) for w in found])
            results.append(Transcript(simplified(text, tok.language_code), tok.language_code, round(duration, 3),
                                      round(confidence, 3), words))
        return results

    def _decode_long(self, audio, language, word_timestamps) -> Transcript:
        """The standard 30 s windows, beam 5, no hints (a runaway decode with them came back after 10 s)."""
        duration = len(audio) / ASR_RATE
        if len(audio) == 0:
            return Transcript("", language or self.default_language, 0.0, 0.0, [])
        segments, info = self.model.transcribe(
            audio, language=language, beam_size=5, word_timestamps=word_timestamps,
            condition_on_previous_text=False,
        )
        segments = list(segments)
        words = [Word(w.word.strip(), round(w.start, 3), round(w.end, 3), round(w.probability, 3))
                 for s in segments for w in (s.words or [])]
        probs = [math.exp(s.avg_logprob) for s in segments]
        text = simplified(" ".join(s.text.strip() for s in segments).strip(), info.language)
        confidence = sum(probs) / len(probs) if probs else 0.0
        return Transcript(text, info.language, round(duration, 3), round(confidence, 3), words)
