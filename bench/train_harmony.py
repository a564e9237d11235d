"""Train the learned key and chord models (:mod:`analysis_engine.learned`) on When-in-Rome.

Trains on the *development* part of the split fixed in :mod:`accuracy_wir` (every dev
piece of every collection, not only the sampled ones), numpy only, with a fixed seed, and
writes ``analysis_engine/learned/weights.npz``. Two runs on one machine give the same bytes.

Each piece is read once (the engine's slices and statistics, and the expert labels
placed on the score's measures, as the bench places them) and cached under
``~/.cache/orpheus-wir/train``; later runs only train. On the 2-core machine of issue 15,
one thread: about 12 minutes to read the 325 development pieces the first time (286 line
up), then 55 s to train (a check on a held-out fifth of them, which picks the key change
cost, then the final fit on all).

Usage: ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python bench/train_harmony.py [PATH]
[--out FILE] [--extract-only] [--cached-only] [--key-epochs N] [--chord-epochs N]``
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import pickle
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy_chorales import normalise
from accuracy_wir import (
    CACHE,
    COLLECTIONS,
    DEFAULT_PATH,
    MIN_ALIGNMENT,
    Piece,
    aligned_labels,
    pieces,
)

from analysis_engine.chords import QUALITIES, QUALITY_INDEX
from analysis_engine.key import correlate, viterbi
from analysis_engine.learned.classes import CLASS_INDEX, CLASSES
from analysis_engine.learned.features import (
    chord_features,
    key_features,
    measure_bass,
    measure_chords,
)
from analysis_engine.learned.key_model import change_costs, signature_tonics
from analysis_engine.learned.mlp import forward, log_softmax
from analysis_engine.learned.rotate import rotated
from analysis_engine.learned.turns import TurnModel, measure_keys, place_changes
from analysis_engine.learned.weights import WEIGHTS_PATH
from analysis_engine.settings import AnalysisSettings
from analysis_engine.units import TPQ

EXTRACT_VERSION = b"2"


def dev_pieces(root: Path) -> list[Piece]:
    """Every development piece, the collections interleaved (so a partial run is mixed)."""
    per = [[p for p in pieces(root, c) if p.part == "dev"] for c in COLLECTIONS]
    out: list[Piece] = []
    for i in range(max(len(p) for p in per)):
        out += [p[i] for p in per if i < len(p)]
    return out


def cache_path(piece: Piece) -> Path:
    digest = hashlib.sha256(
        EXTRACT_VERSION + piece.analysis.read_bytes() + piece.score.read_bytes()
    ).hexdigest()
    return CACHE / "train" / f"{digest[:32]}.pickle"


def extract(piece: Piece) -> dict[str, Any] | None:
    """The engine's slices and statistics of a piece with its aligned expert labels
    (cached), or None when the analysis does not line up with the score."""
    cached = cache_path(piece)
    if cached.exists():
        return pickle.loads(cached.read_bytes())  # type: ignore[no-any-return]
    from analysis_engine import AnalysisContext, build_table
    from analysis_engine.settings import AnalysisSettings
    from score_model.importer import import_score

    labels, _, aligned = aligned_labels(piece)
    data: dict[str, Any] | None = None
    if labels and aligned >= MIN_ALIGNMENT:
        doc = import_score(piece.score.read_bytes(), filename=piece.score.name)
        table = build_table(doc.read())
        ctx = AnalysisContext(table, AnalysisSettings(learned=False))
        data = {
            "collection": piece.collection,
            "name": piece.name,
            "labels": labels,
            "measures": ctx.slices.measures,
            "grid": table.grid,
            "pc_time": ctx.stats.pc_time,
            "rule_path": ctx.keys.path,
        }
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(pickle.dumps(data))
    return data


# ---------------------------------------------------------------- datasets

KEY_HIDDEN = (64,)
CHORD_HIDDEN = (64, 64)
SEED = 15
COSTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
TURN_COSTS = (0.5, 1.0, 2.0, 4.0)  # a change of key away from the bar line
_INVERSION = {"": 0, "7": 0, "6": 1, "65": 1, "64": 2, "43": 2, "42": 3}
_NUMERAL = re.compile(r"^[b#]*(?:iii|ii|iv|vii|vi|v|i|III|II|IV|VII|VI|V|I|N|It|Ger|Fr)[o+ø]?")


def inversion_of(figure: str, mode: str) -> int | None:
    """The inversion a RomanText figure writes (None when its figures are unusual)."""
    text = normalise(figure, mode).split("/")[0]
    match = _NUMERAL.match(text)
    if match is None:
        return None
    return _INVERSION.get(text[match.end() :])


@dataclass
class KeySet:
    channels: np.ndarray  # [measures, C, 12], all measures of all pieces
    scalars: np.ndarray
    piece_bounds: list[tuple[int, int]]  # measures of each piece
    label_measure: np.ndarray  # per label: row of its measure
    label_key: np.ndarray  # per label: 0-11 major, 12-23 minor


@dataclass
class ChordSet:
    channels: np.ndarray  # [labels, C, 12]
    scalars: np.ndarray
    target: np.ndarray  # root * len(CLASSES) + class


def rule_correlations(pc_time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rule engine's window and whole-score correlations (as
    :func:`analysis_engine.key.key_timeline` computes them with the default settings)."""
    settings = AnalysisSettings()
    h = settings.key_window
    count = len(pc_time)
    padded = np.concatenate([np.zeros((h, 12), np.int64), pc_time, np.zeros((h, 12), np.int64)])
    hist = np.zeros((count, 12), dtype=np.int64)
    for shift in range(-h, h + 1):
        hist += (h + 1 - abs(shift)) * padded[h + shift : h + shift + count]
    windows = correlate(hist, settings.local_profile)
    whole = correlate(pc_time.sum(axis=0, keepdims=True), settings.key_profile)[0]
    return windows, whole


def _code(key: tuple[int, str]) -> int:
    return key[0] + 12 * (key[1] == "minor")


def _slice_of(s: Any, local: float) -> int:
    """The slice of measure ``s`` sounding at ``local`` quarters (-1 before the first)."""
    return int(np.searchsorted(s.start, round(local * TPQ), side="right")) - 1


def piece_key_features(item: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The key network's channels and scalars for every measure of a read piece."""
    measures = item["measures"]
    bass = np.array([measure_bass(s) for s in measures]).reshape(len(measures), 12)
    windows, whole = rule_correlations(item["pc_time"])
    chord_time = np.array([measure_chords(s) for s in measures])
    return key_features(
        item["pc_time"],
        bass,
        signature_tonics(item["grid"]),
        item["rule_path"],
        windows,
        whole,
        chord_time,
    )


def key_set(items: list[dict[str, Any]]) -> KeySet:
    channels, scalars, bounds, label_measure, label_key = [], [], [], [], []
    offset = 0
    for item in items:
        measures = item["measures"]
        c, sc = piece_key_features(item)
        channels.append(c)
        scalars.append(sc)
        bounds.append((offset, offset + len(measures)))
        for label in item["labels"]:
            label_measure.append(offset + label.column)
            label_key.append(_code(label.key))
        offset += len(measures)
    return KeySet(
        np.concatenate(channels).astype(np.float32),
        np.concatenate(scalars).astype(np.float32),
        bounds,
        np.array(label_measure),
        np.array(label_key),
    )


def measure_chord_features(item: dict[str, Any], m: int) -> tuple[np.ndarray, np.ndarray]:
    """The chord network's channels and scalars for the slices of measure ``m``."""
    measures, grid = item["measures"], item["grid"]
    return chord_features(
        measures[m - 1] if m else None,
        measures[m],
        measures[m + 1] if m + 1 < len(measures) else None,
        int(grid.beat[m]),
        int(grid.phase[m]),
    )


def chord_target(label: Any) -> int | None:
    """The chord class of an expert label (root x quality-inversion), None when its
    chord is outside the templates or its figure unusual."""
    quality = QUALITY_INDEX.get(label.quality)
    inversion = inversion_of(label.figure, label.key[1])
    if quality is None or inversion is None:
        return None
    inversion = min(inversion, len(QUALITIES[quality][1]) - 1)
    return int(label.root * len(CLASSES) + CLASS_INDEX[(quality, inversion)])


def chord_set(items: list[dict[str, Any]]) -> ChordSet:
    channels, scalars, target = [], [], []
    for item in items:
        measures = item["measures"]
        by_measure: dict[int, list[Any]] = {}
        for label in item["labels"]:
            by_measure.setdefault(label.column, []).append(label)
        for m, labels in sorted(by_measure.items()):
            s = measures[m]
            if s.size == 0:
                continue
            c, sc = measure_chord_features(item, m)
            for label in labels:
                index = _slice_of(s, label.local)
                chord = chord_target(label)
                if index < 0 or chord is None:
                    continue
                channels.append(c[index])
                scalars.append(sc[index])
                target.append(chord)
    return ChordSet(
        np.array(channels, dtype=np.float32),
        np.array(scalars, dtype=np.float32),
        np.array(target),
    )


# ---------------------------------------------------------------- training


def init_layers(rng: np.random.Generator, sizes: list[int]) -> list[list[np.ndarray]]:
    return [
        [
            (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32),
            np.zeros(b, dtype=np.float32),
        ]
        for a, b in itertools.pairwise(sizes)
    ]


def loss_and_grads(
    params: list[list[np.ndarray]], x: np.ndarray, target: np.ndarray, groups: int
) -> tuple[float, list[list[np.ndarray]]]:
    """Cross-entropy of the softmax over ``groups`` rotations x classes, and its gradients
    (``x``: ``[B * 12, D]`` rotated rows)."""
    activations = [x]
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < len(params) - 1:
            h = np.maximum(h, 0.0)
        activations.append(h)
    batch = len(target)
    logits = h.reshape(batch, -1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probs = exp / exp.sum(axis=1, keepdims=True)
    loss = float(-np.log(probs[np.arange(batch), target] + 1e-12).mean())
    grad = probs
    grad[np.arange(batch), target] -= 1.0
    grad = (grad / batch).reshape(h.shape).astype(np.float32)
    grads: list[list[np.ndarray]] = [[] for _ in params]
    for i in range(len(params) - 1, -1, -1):
        w, _ = params[i]
        a = activations[i]
        grads[i] = [a.T @ grad, grad.sum(axis=0)]
        if i:
            grad = (grad @ w.T) * (activations[i] > 0)
    return loss, grads


def train(
    channels: np.ndarray,
    scalars: np.ndarray,
    target: np.ndarray,
    hidden: tuple[int, ...],
    classes: int,
    epochs: int,
    name: str,
    lr: float = 2e-3,
    batch: int = 256,
    decay: float = 1e-5,
) -> list[list[np.ndarray]]:
    """An MLP over rotated inputs, trained with Adam (fixed seed, one thread: same bytes)."""
    rng = np.random.default_rng(SEED)
    width = channels.shape[1] * 12 + scalars.shape[1]
    params = init_layers(rng, [width, *hidden, classes])
    moments = [[np.zeros_like(p) for p in layer] for layer in params]
    squares = [[np.zeros_like(p) for p in layer] for layer in params]
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(target))
        rate = lr * (0.5 * (1 + np.cos(np.pi * epoch / epochs)))
        total = 0.0
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            x = rotated(channels[chosen], scalars[chosen]).astype(np.float32)
            loss, grads = loss_and_grads(params, x, target[chosen], 12)
            total += loss * len(chosen)
            step += 1
            for layer, g_layer, m_layer, v_layer in zip(
                params, grads, moments, squares, strict=True
            ):
                for j in range(2):
                    g = g_layer[j] + decay * layer[j]
                    m_layer[j] = 0.9 * m_layer[j] + 0.1 * g
                    v_layer[j] = 0.999 * v_layer[j] + 0.001 * g * g
                    m_hat = m_layer[j] / (1 - 0.9**step)
                    v_hat = v_layer[j] / (1 - 0.999**step)
                    layer[j] = (layer[j] - rate * m_hat / (np.sqrt(v_hat) + 1e-8)).astype(
                        np.float32
                    )
        print(f"  {name} epoch {epoch + 1}/{epochs}: loss {total / len(target):.4f}", flush=True)
    return params


def as_layers(params: list[list[np.ndarray]]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    return tuple((w, b) for w, b in params)


def key_accuracy(keys: KeySet, layers: Any, costs: tuple[float, ...]) -> dict[float, float]:
    """Share of labels whose measure's key is right, per change cost."""
    rows = forward(rotated(keys.channels, keys.scalars), layers).reshape(-1, 12, 2)
    scores = log_softmax(rows.transpose(0, 2, 1).reshape(-1, 24).astype(np.float64))
    out = {}
    for cost in costs:
        path = np.concatenate(
            [viterbi(scores[a:b], change_costs(cost)) for a, b in keys.piece_bounds]
        )
        out[cost] = float((path[keys.label_measure] == keys.label_key).mean())
    return out


def chord_accuracy(chords: ChordSet, layers: Any) -> float:
    logits = forward(rotated(chords.channels, chords.scalars), layers).reshape(
        len(chords.target), -1
    )
    return float((logits.argmax(axis=1) == chords.target).mean())


def keys_in_force(item: dict[str, Any]) -> list[np.ndarray]:
    """Per measure, per slice: the expert's key at the slice (-1 before the first label)."""
    labels = sorted(item["labels"], key=lambda label: (label.column, label.local))
    out, i, current = [], 0, -1
    for m, s in enumerate(item["measures"]):
        keys = np.full(s.size, -1, dtype=np.int64)
        for j, start in enumerate(s.start.tolist()):
            while i < len(labels) and (labels[i].column, round(labels[i].local * TPQ)) <= (
                m,
                start,
            ):
                current = _code(labels[i].key)
                i += 1
            keys[j] = current
        out.append(keys)
    return out


def turn_model(items: list[dict[str, Any]], cost: float) -> TurnModel:
    """Pitch-class and chord log-probabilities relative to the expert's key, per mode,
    counted over every slice (weighted by duration, add-one smoothed)."""
    pitch = np.ones((2, 12))
    chord = np.ones((2, 12, len(QUALITIES)))
    for item in items:
        for s, keys in zip(item["measures"], keys_in_force(item), strict=True):
            seconds = (s.end - s.start) / TPQ
            for j, key in enumerate(keys.tolist()):
                if key < 0:
                    continue
                mode, tonic = divmod(key, 12)
                weights = s.weights[j].astype(np.float64)
                if weights.sum() > 0:
                    pitch[mode] += np.roll(weights / weights.sum(), -tonic) * seconds[j]
                if s.quality[j] >= 0:
                    chord[mode, (int(s.root[j]) - tonic) % 12, int(s.quality[j])] += seconds[j]
    pitch /= pitch.sum(axis=1, keepdims=True)
    chord /= chord.sum(axis=(1, 2), keepdims=True)
    return TurnModel(np.log(pitch), np.log(chord), cost)


def key_paths(keys: KeySet, layers: Any, cost: float) -> list[np.ndarray]:
    rows = forward(rotated(keys.channels, keys.scalars), layers).reshape(-1, 12, 2)
    scores = log_softmax(rows.transpose(0, 2, 1).reshape(-1, 24).astype(np.float64))
    return [viterbi(scores[a:b], change_costs(cost)) for a, b in keys.piece_bounds]


def slice_key_accuracy(
    items: list[dict[str, Any]], paths: list[np.ndarray], model: TurnModel | None
) -> float:
    """Share of labels whose slice's key is right (the measure's key without ``model``)."""
    hits = total = 0
    for item, path in zip(items, paths, strict=True):
        measures = item["measures"]
        keys = (
            place_changes(path, measures, model)
            if model is not None
            else measure_keys(path, measures)
        )
        for label in item["labels"]:
            m = label.column
            j = _slice_of(measures[m], label.local)
            key = int(keys[m][j]) if 0 <= j < len(keys[m]) else int(path[m])
            hits += key == _code(label.key)
            total += 1
    return hits / total


def fit(
    items: list[dict[str, Any]], key_epochs: int, chord_epochs: int
) -> tuple[Any, Any, KeySet, ChordSet]:
    keys = key_set(items)
    chords = chord_set(items)
    print(f"  {len(keys.label_key)} key labels, {len(chords.target)} chord labels", flush=True)
    key_layers = train(
        keys.channels[keys.label_measure],
        keys.scalars[keys.label_measure],
        keys.label_key % 12 * 2 + keys.label_key // 12,
        KEY_HIDDEN,
        2,
        key_epochs,
        "key",
    )
    chord_layers = train(
        chords.channels,
        chords.scalars,
        chords.target,
        CHORD_HIDDEN,
        len(CLASSES),
        chord_epochs,
        "chord",
    )
    return as_layers(key_layers), as_layers(chord_layers), keys, chords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH)
    parser.add_argument("--extract-only", action="store_true")
    parser.add_argument("--out", default=None, help="weights file (default: the package's)")
    parser.add_argument("--cached-only", action="store_true", help="skip unread pieces")
    parser.add_argument("--key-epochs", type=int, default=12)
    parser.add_argument("--chord-epochs", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    todo = dev_pieces(Path(args.path))
    if args.cached_only:
        todo = [piece for piece in todo if cache_path(piece).exists()]
    loaded = []
    for i, piece in enumerate(todo):
        try:
            item = extract(piece)
        except Exception as exc:  # an unreadable score is skipped, as in the bench
            print(f"  {piece.name}: {type(exc).__name__}: {exc}", flush=True)
            continue
        if item is not None:
            loaded.append(item)
        if i % 20 == 0:
            print(f"{i}/{len(todo)} {time.perf_counter() - started:.0f} s", flush=True)
    print(f"{len(loaded)} pieces read in {time.perf_counter() - started:.0f} s", flush=True)
    if args.extract_only:
        return
    # choose the key change cost (and check the fit) on a fifth of the development pieces
    held = [item for i, item in enumerate(loaded) if i % 5 == 4]
    kept = [item for i, item in enumerate(loaded) if i % 5 != 4]
    print(f"validation: training on {len(kept)} pieces, checking on {len(held)}", flush=True)
    key_layers, chord_layers, _, _ = fit(kept, args.key_epochs, args.chord_epochs)
    held_keys, held_chords = key_set(held), chord_set(held)
    accuracy = key_accuracy(held_keys, key_layers, COSTS)
    cost = max(COSTS, key=lambda c: (accuracy[c], -c))
    print(
        "  held-out local key by change cost: "
        + ", ".join(f"{c:g}: {100 * a:.1f}%" for c, a in accuracy.items()),
        flush=True,
    )
    print(
        "  held-out chord (root, quality, inversion): "
        f"{100 * chord_accuracy(held_chords, chord_layers):.1f}%"
    )
    # where inside the bar a change of key falls: profiles from the training part
    paths = key_paths(held_keys, key_layers, cost)
    plain = slice_key_accuracy(held, paths, None)
    turned = {c: slice_key_accuracy(held, paths, turn_model(kept, c)) for c in TURN_COSTS}
    turn_cost = max(TURN_COSTS, key=lambda c: (turned[c], c))
    print(
        f"  held-out key at the label's slice: {100 * plain:.1f}% with the measure's key; "
        "changes placed inside the bar, by cost: "
        + ", ".join(f"{c:g}: {100 * a:.1f}%" for c, a in turned.items()),
        flush=True,
    )
    print(
        f"final: training on all {len(loaded)} development pieces, change cost {cost:g}", flush=True
    )
    key_layers, chord_layers, _, _ = fit(loaded, args.key_epochs, args.chord_epochs)
    turns = turn_model(loaded, turn_cost)
    arrays: dict[str, np.ndarray] = {
        "key_change_cost": np.array(cost, dtype=np.float64),
        "turn_pitch": turns.pitch.astype(np.float32),
        "turn_chord": turns.chord.astype(np.float32),
        "turn_cost": np.array(turn_cost, dtype=np.float64),
    }
    for prefix, layers in (("key", key_layers), ("chord", chord_layers)):
        for i, (w, b) in enumerate(layers):
            arrays[f"{prefix}_w{i}"] = w.astype(np.float32)
            arrays[f"{prefix}_b{i}"] = b.astype(np.float32)
    out = Path(args.out) if args.out else WEIGHTS_PATH
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    out.write_bytes(buffer.getvalue())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(
        f"wrote {out} ({out.stat().st_size} bytes, sha256 {digest[:16]}) "
        f"in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
