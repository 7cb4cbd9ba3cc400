"""Vosk (Kaldi) recognizer: true streaming partials and an optional grammar (phrase list) per state."""
from __future__ import annotations

import json

import numpy as np

from .audio import ASR_RATE, float_to_pcm16
from .recognizer import Recognizer, RecognizerStream, Transcript, Word


class VoskStream(RecognizerStream):
    def __init__(self, model, sample_rate: int, language: str, grammar: list[str] | None):
        from vosk import KaldiRecognizer

        args = [model, float(sample_rate)]
        if grammar:
            args.append(json.dumps(grammar + ["[unk]"], ensure_ascii=False))
        self._rec = KaldiRecognizer(*args)
        self._rec.SetWords(True)
        self._rate, self._language = sample_rate, language
        self._bytes = 0
        self._final_parts: list[dict] = []

    def accept(self, pcm16: bytes) -> str:
        self._bytes += len(pcm16)
        if self._rec.AcceptWaveform(pcm16):
            self._final_parts.append(json.loads(self._rec.Result()))
            return self._joined()
        partial = json.loads(self._rec.PartialResult()).get("partial", "")
        return " ".join(p for p in (self._joined(), partial) if p)

    def _joined(self) -> str:
        return " ".join(p.get("text", "") for p in self._final_parts if p.get("text"))

    def finish(self) -> Transcript:
        self._final_parts.append(json.loads(self._rec.FinalResult()))
        words = [Word(w["word"], round(w["start"], 3), round(w["end"], 3), round(w.get("conf", 1.0), 3))
                 for p in self._final_parts for w in p.get("result", []) if w["word"] != "[unk]"]
        text = " ".join(w.word for w in words) or self._joined()
        conf = float(np.mean([w.prob for w in words])) if words else 0.0
        return Transcript(text, self._language, round(self._bytes / 2 / self._rate, 3), round(conf, 3), words)


class VoskRecognizer(Recognizer):
    name = "vosk"

    def __init__(self, model_dir, language: str = "ko", workers: int = 2):
        from vosk import Model, SetLogLevel

        super().__init__(workers)
        SetLogLevel(-1)
        self.model = Model(str(model_dir))
        self.language = language

    def stream(self, sample_rate: int, hints: list[str] | None = None) -> VoskStream:
        """`hints` become a closed grammar: only these phrases (or [unk]) can be recognised."""
        return VoskStream(self.model, sample_rate, self.language, hints)

    def transcribe(self, audio, hints=None, language=None, word_timestamps=True, fits=None) -> Transcript:
        s = self.stream(ASR_RATE, hints)
        pcm = float_to_pcm16(audio)
        step = ASR_RATE // 5 * 2  # 200 ms chunks, as a live call would feed them
        for i in range(0, len(pcm), step):
            s.accept(pcm[i : i + step])
        return s.finish()
