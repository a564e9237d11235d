"""Issue 15: the sequence model over every slice of a piece (AugmentedNet's idea), trained
and held out as :mod:`train_harmony` holds out, beside the shipped MLPs and in a sum with
them; ``--local --save analysis_engine/learned/sequence.npz`` writes the shipped one
(:mod:`analysis_engine.learned.sequence`).

Each slice's input is what the shipped networks read: the chord network's features of
the slice (13 pitch-class channels, 21 scalars) and, without ``--local``, the key
network's features of its measure (30 channels, 2 scalars, some of them whole-score),
standardised with statistics pooled over the 12 pitch classes.
A linear layer and ReLU, then a bidirectional GRU (``--arch gru``) or a stack of dilated
convolutions (``--arch tcn``, a fixed receptive field), then two heads: the key in force
(24 classes, trained on every slice after the first label) and the chord (root x the 32
quality-inversion classes, trained at the slices of the expert's labels). Trained on
chunks of ``--chunk`` slices, each transposed by a random interval; evaluated on whole
pieces, on the unrotated input and averaged over the 12 transpositions (run as one batch
of 12), and on fixed windows of slices with context either side (what an incremental
engine would recompute after an edit).

Needs PyTorch for training (``pip install torch==2.13.0``; not a dependency of Orpheus):
``python bench/train_sequence.py [PATH] [--arch gru|tcn] [--local] [--epochs N]
[--shifts 0,6] [--compare] [--save FILE] [--load FILE]``. The pieces come from
:mod:`train_harmony`'s cache (run it first). With ``--local``, the package's numpy pass is
checked against PyTorch's and timed, the engine's windowed inference runs on the
held-out pieces with the transpositions ``--shifts`` (``--compare``: others too), the
weights of its sums with the MLPs are chosen there, and ``--save`` writes the network,
its standardisation, the transpositions and those weights as ``.npz``.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import train_harmony as th
from accuracy_wir import CACHE, DEFAULT_PATH

from analysis_engine.key import viterbi
from analysis_engine.learned.classes import CLASSES
from analysis_engine.learned.features import (
    CHORD_CHANNELS,
    CHORD_SCALARS,
)
from analysis_engine.learned.key_model import change_costs
from analysis_engine.learned.mlp import forward, log_softmax
from analysis_engine.learned.rotate import rotated
from analysis_engine.learned.sequence import (
    BLOCK,
    CONTEXT,
    MeasureOutputs,
    SequenceWeights,
    hidden_states,
    inputs,
    load_sequence,
    measure_outputs,
)
from analysis_engine.learned.turns import place_changes
from analysis_engine.memo import Memo

NC = len(CLASSES)
ARRAYS = CACHE / "sequence-arrays-1.pickle"


# ---------------------------------------------------------------- data


def slice_arrays(item: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per slice of a piece: inputs, the expert's key in force, the chord at labels;
    per label: its slice, key and chord; and the shipped MLPs' inputs."""
    measures = item["measures"]
    kc, ks = th.piece_key_features(item)
    keys = th.keys_in_force(item)
    cc, cs, owner, key_t = [], [], [], []
    first: dict[int, int] = {}  # measure -> row of its first slice
    rows = 0
    for m, s in enumerate(measures):
        if s.size == 0:
            continue
        c, sc = th.measure_chord_features(item, m)
        first[m] = rows
        rows += s.size
        cc.append(c)
        cs.append(sc)
        owner.append(np.full(s.size, m))
        key_t.append(keys[m])
    owners = np.concatenate(owner)
    chord_t = np.full(len(owners), -1, dtype=np.int64)
    lab_slice, lab_key, lab_chord = [], [], []
    for label in item["labels"]:
        m = label.column
        j = th._slice_of(measures[m], label.local)
        if j < 0 or m not in first:
            continue
        target = th.chord_target(label)
        if target is not None:
            chord_t[first[m] + j] = target
        lab_slice.append(first[m] + j)
        lab_key.append(th._code(label.key))
        lab_chord.append(-1 if target is None else target)
    chord_c = np.concatenate(cc).astype(np.float32)
    chord_s = np.concatenate(cs).astype(np.float32)
    return {
        "x": np.concatenate([chord_c, kc[owners].astype(np.float32)], axis=1),
        "xs": np.concatenate([chord_s, ks[owners].astype(np.float32)], axis=1),
        "owner": owners,
        "key_t": np.concatenate(key_t),
        "chord_t": chord_t,
        "lab_slice": np.array(lab_slice, dtype=np.int64),
        "lab_key": np.array(lab_key, dtype=np.int64),
        "lab_chord": np.array(lab_chord, dtype=np.int64),
        "kc": kc.astype(np.float32),
        "ks": ks.astype(np.float32),
        "cc": chord_c,
        "cs": chord_s,
    }


def load(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, np.ndarray]]]:
    """The development pieces that line up (train_harmony's order) and their arrays."""
    items = []
    for piece in th.dev_pieces(path):
        if not th.cache_path(piece).exists():
            continue
        item = th.extract(piece)
        if item is not None:
            items.append(item)
    names = [(item["collection"], item["name"]) for item in items]
    if ARRAYS.exists():
        cached_names, arrays = pickle.loads(ARRAYS.read_bytes())
        if cached_names == names:
            return items, arrays
    arrays = [slice_arrays(item) for item in items]
    ARRAYS.write_bytes(pickle.dumps((names, arrays)))
    return items, arrays


def flat(a: dict[str, np.ndarray], shift: int) -> np.ndarray:
    """The inputs of every slice transposed by ``shift`` semitones, ``[S, D]`` (as the
    engine builds them)."""
    return inputs(a["x"], a["xs"], shift)


def roll_targets(t: np.ndarray, shift: int, width: int) -> np.ndarray:
    """Targets ``root_or_tonic * width + rest`` (key: ``mode * 12 + tonic``) transposed."""
    out = t.copy()
    ok = t >= 0
    if width == 0:  # keys
        out[ok] = (t[ok] % 12 + shift) % 12 + 12 * (t[ok] // 12)
    else:
        out[ok] = ((t[ok] // width + shift) % 12) * width + t[ok] % width
    return out


# ---------------------------------------------------------------- networks


def build(torch: Any, arch: str, dim: int, proj: int, hidden: int, layers: int) -> Any:
    nn = torch.nn

    class Gru(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Sequential(nn.Linear(dim, proj), nn.ReLU(), nn.Dropout(0.1))
            self.gru = nn.GRU(
                proj, hidden, num_layers=layers, batch_first=True, bidirectional=True, dropout=0.1
            )
            self.key = nn.Linear(2 * hidden, 24)
            self.chord = nn.Linear(2 * hidden, 12 * NC)

        def forward(self, x: Any) -> tuple[Any, Any]:
            h, _ = self.gru(self.inp(x))
            return self.key(h), self.chord(h)

    class Block(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self, dilation: int) -> None:
            super().__init__()
            self.conv = nn.Conv1d(hidden, hidden, 3, padding=dilation, dilation=dilation)
            self.mix = nn.Conv1d(hidden, hidden, 1)
            self.drop = nn.Dropout(0.1)

        def forward(self, h: Any) -> Any:
            return h + self.drop(self.mix(torch.relu(self.conv(torch.relu(h)))))

    class Tcn(nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Sequential(nn.Linear(dim, proj), nn.ReLU(), nn.Linear(proj, hidden))
            self.blocks = nn.Sequential(*[Block(2**i) for _ in range(layers) for i in range(5)])
            self.key = nn.Linear(hidden, 24)
            self.chord = nn.Linear(hidden, 12 * NC)

        def forward(self, x: Any) -> tuple[Any, Any]:
            h = torch.relu(self.blocks(self.inp(x).transpose(1, 2)).transpose(1, 2))
            return self.key(h), self.chord(h)

    return Gru() if arch == "gru" else Tcn()


def train(torch: Any, net: Any, data: list[dict[str, np.ndarray]], norm: Any, args: Any) -> None:
    rng = np.random.default_rng(args.seed)
    mean, std = norm
    dim = len(mean)
    lengths = [len(a["owner"]) for a in data]
    per_piece = [max(1, round(n / args.chunk)) for n in lengths]
    steps = args.epochs * -(-sum(per_piece) // args.batch)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=steps)
    loss_of = torch.nn.CrossEntropyLoss(ignore_index=-1)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        net.train()
        chunks = [
            (p, int(rng.integers(0, max(1, n - args.chunk + 1))))
            for p, (n, k) in enumerate(zip(lengths, per_piece, strict=True))
            for _ in range(k)
        ]
        order = rng.permutation(len(chunks))
        losses = []
        for b in range(0, len(order), args.batch):
            xs, keys, chords = [], [], []
            for c in order[b : b + args.batch]:
                piece, start = chunks[c]
                a, shift = data[piece], int(rng.integers(12))
                span = slice(start, start + args.chunk)
                x = (flat({"x": a["x"][span], "xs": a["xs"][span]}, shift) - mean) / std
                pad = args.chunk - len(x)
                xs.append(np.concatenate([x, np.zeros((pad, dim), np.float32)]))
                keys.append(
                    np.pad(roll_targets(a["key_t"][span], shift, 0), (0, pad), constant_values=-1)
                )
                chords.append(
                    np.pad(
                        roll_targets(a["chord_t"][span], shift, NC), (0, pad), constant_values=-1
                    )
                )
            key_logits, chord_logits = net(torch.from_numpy(np.stack(xs).astype(np.float32)))
            loss = loss_of(key_logits.reshape(-1, 24), torch.from_numpy(np.stack(keys)).reshape(-1))
            loss = loss + loss_of(
                chord_logits.reshape(-1, 12 * NC), torch.from_numpy(np.stack(chords)).reshape(-1)
            )
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            schedule.step()
            losses.append(float(loss.detach()))
        if epoch % 10 == 9 or epoch == args.epochs - 1:
            print(
                f"  epoch {epoch + 1}: loss {np.mean(losses):.3f}, "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )


def predict(
    torch: Any,
    net: Any,
    a: dict[str, np.ndarray],
    norm: Any,
    shifts: tuple[int, ...],
    window: tuple[int, int] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Key ``[S, 24]`` and chord ``[S, 384]`` log-probabilities, averaged over the
    transpositions ``shifts`` (one batch); with ``window=(block, context)``, each block of
    slices is read with ``context`` slices either side and nothing else."""
    mean, std = norm
    size = len(a["owner"])
    x = np.stack([(flat(a, r) - mean) / std for r in shifts]).astype(np.float32)
    spans = [(0, size, 0, size)]
    if window is not None:
        block, context = window
        spans = [
            (max(0, s - context), min(size, s + block + context), s, min(size, s + block))
            for s in range(0, size, block)
        ]
    keys = np.zeros((len(shifts), size, 24), np.float32)
    chords = np.zeros((len(shifts), size, 12 * NC), np.float32)
    with torch.no_grad():
        for lo, hi, a0, a1 in spans:
            k, c = net(torch.from_numpy(x[:, lo:hi]))
            keys[:, a0:a1] = torch.log_softmax(k, -1).numpy()[:, a0 - lo : a1 - lo]
            chords[:, a0:a1] = torch.log_softmax(c, -1).numpy()[:, a0 - lo : a1 - lo]
    for i, r in enumerate(shifts):  # back to the score's pitch
        keys[i] = np.roll(keys[i].reshape(size, 2, 12), -r, axis=2).reshape(size, 24)
        chords[i] = np.roll(chords[i].reshape(size, 12, NC), -r, axis=1).reshape(size, -1)
    return keys.mean(axis=0), chords.mean(axis=0)


# ---------------------------------------------------------------- evaluation


class Held:
    """The held-out pieces' labels, and the MLPs' outputs on them."""

    def __init__(self, items: list[dict[str, Any]], arrays: list[dict[str, np.ndarray]], mlp: Any):
        key_layers, chord_layers, turns = mlp
        self.items, self.arrays, self.turns = items, arrays, turns
        self.key_scores, self.chord_scores = [], []
        for a in arrays:
            rows = forward(rotated(a["kc"], a["ks"]), key_layers).reshape(-1, 12, 2)
            self.key_scores.append(
                log_softmax(rows.transpose(0, 2, 1).reshape(-1, 24).astype(np.float64))
            )
            logits = forward(rotated(a["cc"], a["cs"]), chord_layers).reshape(len(a["cc"]), -1)
            self.chord_scores.append(log_softmax(logits.astype(np.float64)))

    def key_accuracy(self, keys: list[np.ndarray]) -> float:
        hits = sum(
            int((k[a["lab_slice"]] == a["lab_key"]).sum())
            for k, a in zip(keys, self.arrays, strict=True)
        )
        return hits / sum(len(a["lab_key"]) for a in self.arrays)

    def chord_accuracy(
        self, chords: list[np.ndarray], keys: list[np.ndarray] | None = None
    ) -> float:
        hits = total = 0
        for i, (c, a) in enumerate(zip(chords, self.arrays, strict=True)):
            ok = a["lab_chord"] >= 0
            at = a["lab_slice"][ok]
            right = c[at] == a["lab_chord"][ok]
            if keys is not None:
                right &= keys[i][at] == a["lab_key"][ok]
            hits += int(right.sum())
            total += int(ok.sum())
        return hits / total

    def engine_outputs(
        self, weights: SequenceWeights, block: int, context: int
    ) -> list[MeasureOutputs]:
        """The package's windowed sequence model on each held-out piece, as the engine
        runs it (measure windows, the weights' transpositions)."""
        out = []
        for item, a in zip(self.items, self.arrays, strict=True):
            count = len(item["measures"])
            cuts = np.searchsorted(a["owner"], np.arange(count + 1))
            features = [
                (a["cc"][cuts[m] : cuts[m + 1]], a["cs"][cuts[m] : cuts[m + 1]])
                for m in range(count)
            ]
            out.append(
                measure_outputs(list(range(count)), features, Memo(), weights, block, context)
            )
        return out

    def mlp_keys(
        self, gru_keys: list[np.ndarray] | None, weight: float, cost: float
    ) -> list[np.ndarray]:
        """The shipped path: the measure's scores (plus ``weight`` x the sequence model's
        mean over the measure's slices), Viterbi, changes placed inside the bar."""
        out = []
        for n, (item, a) in enumerate(zip(self.items, self.arrays, strict=True)):
            scores = self.key_scores[n].copy()
            if gru_keys is not None and weight:
                sums = np.zeros_like(scores)
                np.add.at(sums, a["owner"], gru_keys[n])
                counts = np.bincount(a["owner"], minlength=len(scores))
                scores += weight * sums / np.maximum(counts, 1)[:, None]
            path = viterbi(scores, change_costs(cost))
            out.append(np.concatenate(place_changes(path, item["measures"], self.turns)))
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=DEFAULT_PATH)
    parser.add_argument("--arch", choices=("gru", "tcn"), default="gru")
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--chunk", type=int, default=128)
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--proj", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=96)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--local",
        action="store_true",
        help="read the chord network's features alone (no key features: nothing whole-score)",
    )
    parser.add_argument(
        "--shifts", default="0", help="transpositions the engine averages (--local)"
    )
    parser.add_argument(
        "--compare", action="store_true", help="also time other transpositions and windows"
    )
    parser.add_argument("--save", default=None, help="the trained weights (.npz)")
    parser.add_argument("--load", default=None, help="skip training: weights from --save")
    args = parser.parse_args()
    import torch

    torch.manual_seed(args.seed)
    started = time.perf_counter()
    items, arrays = load(Path(args.path))
    if args.local:
        for a in arrays:
            a["x"], a["xs"] = a["x"][:, :CHORD_CHANNELS], a["xs"][:, :CHORD_SCALARS]
    kept = [i for i in range(len(items)) if i % 5 != 4]
    held = [i for i in range(len(items)) if i % 5 == 4]
    data = [arrays[i] for i in kept]
    print(
        f"{len(kept)} training pieces ({sum(len(a['owner']) for a in data)} slices), "
        f"{len(held)} held out; {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    # standardisation pooled over pitch classes, so transposing the input commutes with it
    xs = np.concatenate([flat(a, 0) for a in data])
    width = data[0]["x"].shape[1] * 12
    pooled = xs[:, :width].reshape(len(xs), -1, 12)
    mean = np.concatenate([np.repeat(pooled.mean(axis=(0, 2)), 12), xs[:, width:].mean(0)])
    std = np.concatenate([np.repeat(pooled.std(axis=(0, 2)), 12), xs[:, width:].std(0)])
    norm = (mean.astype(np.float32), np.maximum(std, 1e-3).astype(np.float32))
    del xs, pooled
    net = build(torch, args.arch, len(mean), args.proj, args.hidden, args.layers)
    if args.load:
        saved = np.load(args.load)
        net.load_state_dict({k: torch.from_numpy(saved[k]) for k in net.state_dict()})
    else:
        train(torch, net, data, norm, args)
    net.eval()
    # the shipped MLPs trained on the same four fifths
    mlp_cache = CACHE / f"sequence-mlp-{len(items)}.pickle"
    if mlp_cache.exists():
        mlp = pickle.loads(mlp_cache.read_bytes())
    else:
        key_layers, chord_layers, _, _ = th.fit([items[i] for i in kept], 12, 20)
        mlp = (key_layers, chord_layers, th.turn_model([items[i] for i in kept], 1.0))
        mlp_cache.write_bytes(pickle.dumps(mlp))
    ev = Held([items[i] for i in held], [arrays[i] for i in held], mlp)
    base_keys = ev.mlp_keys(None, 0, 0.1)
    base_chords = [s.argmax(1) for s in ev.chord_scores]
    print(
        f"held out, shipped MLPs: key at the label {100 * ev.key_accuracy(base_keys):.1f}%, "
        f"chord {100 * ev.chord_accuracy(base_chords):.1f}%, "
        f"both {100 * ev.chord_accuracy(base_chords, base_keys):.1f}%",
        flush=True,
    )
    runs: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    every = tuple(range(12))
    for name, shifts, window in (
        ("whole piece", (0,), None),
        ("whole piece, 2 transpositions", (0, 6), None),
        ("whole piece, 3 transpositions", (0, 4, 8), None),
        ("whole piece, 4 transpositions", (0, 3, 6, 9), None),
        ("whole piece, 6 transpositions", (0, 2, 4, 6, 8, 10), None),
        ("whole piece, 12 transpositions", every, None),
        ("windows of 64 slices +-32, 12 transpositions", every, (64, 32)),
        ("windows of 64 slices +-64, 12 transpositions", every, (64, 64)),
    ):
        t0 = time.perf_counter()
        out = [predict(torch, net, a, norm, shifts, window) for a in ev.arrays]
        keys = [k.argmax(1) for k, _ in out]
        chords = [c.argmax(1) for _, c in out]
        runs[name] = ([k for k, _ in out], [c for _, c in out])
        print(
            f"held out, {args.arch} {name}: key {100 * ev.key_accuracy(keys):.1f}%, "
            f"chord {100 * ev.chord_accuracy(chords):.1f}%, "
            f"both {100 * ev.chord_accuracy(chords, keys):.1f}% "
            f"({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
    gru_keys, gru_chords = runs["whole piece, 12 transpositions"]
    for weight in (0.5, 1.0, 2.0):
        keys = ev.mlp_keys(gru_keys, weight, 0.1)
        chords = [
            (m + weight * g).argmax(1) for m, g in zip(ev.chord_scores, gru_chords, strict=True)
        ]
        print(
            f"held out, MLP + {weight:g} x {args.arch}: key {100 * ev.key_accuracy(keys):.1f}%, "
            f"chord {100 * ev.chord_accuracy(chords):.1f}%, "
            f"both {100 * ev.chord_accuracy(chords, keys):.1f}%",
            flush=True,
        )
    gk = [k.argmax(1) for k in gru_keys]
    for weight in (0.5, 1.0, 2.0):
        chords = [
            (m + weight * g).argmax(1) for m, g in zip(ev.chord_scores, gru_chords, strict=True)
        ]
        print(
            f"held out, key {args.arch}, chord MLP + {weight:g} x {args.arch}: "
            f"both {100 * ev.chord_accuracy(chords, gk):.1f}%",
            flush=True,
        )
    if args.arch == "gru" and args.local:
        engine_path(net, norm, ev, args)


def engine_path(net: Any, norm: Any, ev: Held, args: Any) -> None:
    """The package's numpy forward pass (checked against PyTorch and timed) and its
    windowed inference on the held-out pieces; the weights of the sum with the MLPs are
    chosen here, on the held-out fifth, and saved with the network (``--save``)."""
    import torch

    path = Path(args.save or "/tmp/sequence.npz")
    shifts = tuple(int(s) for s in args.shifts.split(","))
    arrays = {k: v.numpy() for k, v in net.state_dict().items()}
    extra = {"norm_mean": norm[0], "norm_std": norm[1], "shifts": np.array(shifts)}
    np.savez(path, **arrays, **extra)
    weights = load_sequence.__wrapped__(path)
    longest = max(ev.arrays, key=lambda a: len(a["owner"]))
    x = np.stack([(flat(longest, r) - norm[0]) / norm[1] for r in shifts]).astype(np.float32)
    lengths = np.full(len(x), x.shape[1])
    t0 = time.perf_counter()
    mine = hidden_states(weights, x, lengths)
    spent = time.perf_counter() - t0
    with torch.no_grad():
        theirs = net.gru(net.inp(torch.from_numpy(x)))[0].numpy()
    print(
        f"numpy GRU: {x.shape[1]} slices x {len(shifts)} transpositions in {spent:.2f} s "
        f"({1e6 * spent / x.shape[1]:.0f} us a slice), "
        f"largest difference from PyTorch {np.abs(mine - theirs).max():.1e}",
        flush=True,
    )
    configs = [(shifts, BLOCK, CONTEXT)]
    if args.compare:
        configs += [
            (other, block, context)
            for other in ((0,), (0, 6), (0, 4, 8), (0, 3, 6, 9))
            for block, context in ((BLOCK, CONTEXT), (16, 32), (8, 16))
            if (other, block, context) != configs[0]
        ]
    chosen = None
    for other, block, context in configs:
        found = engine_figures(replace(weights, shifts=other), ev, block, context)
        chosen = chosen or found
    if args.save and chosen:
        extra.update(key_weight=np.array(chosen[0]), chord_weight=np.array(chosen[1]))
        np.savez(path, **arrays, **extra)


def engine_figures(
    weights: SequenceWeights, ev: Held, block: int, context: int
) -> tuple[float, float]:
    """The engine's windowed inference on the held-out pieces, timed, with the weights of
    the sums with the MLPs that do best there (key: local key; chord: key and chord)."""
    t0 = time.perf_counter()
    outputs = ev.engine_outputs(weights, block, context)
    slices = sum(len(a["owner"]) for a in ev.arrays)
    spent = 1e6 * (time.perf_counter() - t0) / slices
    gru_keys = [np.concatenate(o.key) for o in outputs]
    gru_chords = [np.concatenate(o.chord) for o in outputs]
    key_weight = max(
        (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0),
        key=lambda w: ev.key_accuracy(ev.mlp_keys(gru_keys, w, 0.1)),
    )
    keys = ev.mlp_keys(gru_keys, key_weight, 0.1)

    def chords(w: float) -> list[np.ndarray]:
        return [(m + w * g).argmax(1) for m, g in zip(ev.chord_scores, gru_chords, strict=True)]

    chord_weight = max(
        (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0), key=lambda w: ev.chord_accuracy(chords(w), keys)
    )
    best = chords(chord_weight)
    print(
        f"held out, engine: transpositions {weights.shifts}, blocks of {block} measures "
        f"+-{context} slices, {spent:.0f} us a slice; MLP + {key_weight:g} x key, "
        f"+ {chord_weight:g} x chord: key {100 * ev.key_accuracy(keys):.1f}%, "
        f"chord {100 * ev.chord_accuracy(best):.1f}%, "
        f"both {100 * ev.chord_accuracy(best, keys):.1f}%",
        flush=True,
    )
    return key_weight, chord_weight


if __name__ == "__main__":
    main()
