"""A small learned model for local keys and chord labels, run in numpy.

Two transposition-equivariant multilayer perceptrons, trained on the development part of
the When-in-Rome corpus by ``bench/train_harmony.py``:

- :mod:`~analysis_engine.learned.key_model`: per measure, the 24 keys scored from the
  pitch-class content of the measure and its neighbours, then a Viterbi path with a cost
  per change of key;
- :mod:`~analysis_engine.learned.chord_model`: per slice, root, quality and inversion from
  the slice, its beat, its neighbours and the rule engine's own label;
- :mod:`~analysis_engine.learned.sequence`: a bidirectional GRU over the slices, read in
  windows of a few bars, whose key and chord log-probabilities join the two networks'
  (trained by ``bench/train_sequence.py``).

The MLPs score every transposition with the same weights (features rotated to each
candidate tonic or root, :mod:`~analysis_engine.learned.rotate`), so transposing a score transposes
the answers. Weights ship in ``weights.npz`` (:mod:`~analysis_engine.learned.weights`) and
``sequence.npz``.
"""
