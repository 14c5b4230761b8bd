"""Sample-identification scores on the dev corpus (``queries/`` against ``library/``), for the matched
filter and the landmark baseline side by side: recall per kind and per transform tier, precision,
negative queries with any match, pitch accuracy, localisation error, query time.

The matched filter runs once with a low floor (``SWEEP_FLOOR``), so its scores can be read at any threshold:
the shipped one, a sweep, and a two-fold check that fits the threshold on half the queries and scores it on
the other half (the shipped threshold was chosen on all of them).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from audiowave.audio_io import load_audio
from audiowave.samples import matcher
from audiowave.samples.identical import Signature, group_recordings
from audiowave.samples.index_store import IndexEntry, SampleIndex, read_sources

# library file name -> (occurrence starts, pitch semitones, duration ratio, confidence, names of the files holding
# the same recording); None where a matcher has no estimate (the landmark baseline reports every reference with
# enough votes, at confidence 1)
Found = dict[str, tuple[list[float], int | None, float | None, float, list[str]]]
SWEEP_FLOOR = 0.5
SWEEP = (0.6, 0.65, 0.7, 0.74, 0.78, 0.82, 0.86, 0.9)
MIN_PRECISION, MAX_NEGATIVE_SHARE = 0.95, 0.1  # the targets, which a fitted threshold must meet
MEASURED = ("loc_err", "pitch_ok", "stretch_ok")  # what a hit tells only when it is found


def corpus_sources(corpus: Path) -> set[Path]:
    """Files the corpus was made from: its library samples' sources and the queries' distractor sounds."""
    gt = json.loads((corpus / "ground_truth.json").read_text())
    used = [e["source_file"] for e in gt.get("library", []) if "source_file" in e]
    used += [d["source_file"] for q in gt["queries"] for d in q.get("distractors", []) if "source_file" in d]
    return {Path(p).resolve() for p in used}


def with_distractors(index: SampleIndex, corpus: Path, indexes: list[Path]) -> tuple[SampleIndex, int]:
    """``index`` plus the entries of other sample indexes (say the whole kits the corpus drew from), leaving out
    every file the corpus used, so a match to one of them is a false match; and how many were added. Added
    entries are named by library and path, so files of the same name in different packs stay apart."""
    used = corpus_sources(corpus)
    extra = []
    for index_dir in indexes:
        roots = read_sources(index_dir)
        for e in SampleIndex.load(index_dir).entries:
            if (Path(roots.get(e.meta["library"], "")) / e.meta["path"]).resolve() not in used:
                extra.append(IndexEntry({**e.meta, "name": f"{e.meta['library']}/{e.meta['path']}"}, e.descriptor))
    return SampleIndex.from_entries(index.entries + extra), len(extra)


def run_matchers(
    index: SampleIndex, path: Path, threshold: float = SWEEP_FLOOR, pairs: int = matcher.SHORTLIST_PAIRS
) -> dict[str, tuple[Found, float]]:
    """Both matchers on one query (the matched filter verifying ``pairs`` shortlisted pairs): found samples and
    seconds taken."""
    clip = load_audio(path)
    mono, sr = clip.mono, clip.sample_rate
    names = [e.meta["name"] for e in index.entries]
    t0 = time.perf_counter()
    found = matcher.match(index, mono, sr, threshold, pairs)  # best first

    def signature(m: matcher.SampleMatch) -> Signature:
        return Signature.of(index.entries[m.entry].descriptor)

    groups = group_recordings(found, signature, lambda m: m.gain_db, lambda m: [o.start_s for o in m.occurrences])
    mf = {
        names[m.entry]: (
            [o.start_s for o in m.occurrences],
            m.pitch_semitones,
            m.time_stretch,
            m.confidence,
            [names[o.entry] for o in others],
        )
        for m, others, _ in groups
    }
    t1 = time.perf_counter()
    lm = {names[e]: ([t], None, None, 1.0, []) for e, _, t in matcher.landmark_match(index, mono, sr)}
    t2 = time.perf_counter()
    return {"matched-filter": (mf, t1 - t0), "landmark baseline": (lm, t2 - t1)}


def evaluate_samples(
    corpus: Path,
    index: SampleIndex,
    on_query: Callable[[str], None] | None = None,
    threshold: float = matcher.DEFAULT_THRESHOLD,
    pairs: int = matcher.SHORTLIST_PAIRS,
) -> tuple[dict[str, dict[str, float]], list[dict]]:
    """Scores per matcher (metric -> value) at ``threshold``, and the per-query rows (every match down to
    ``SWEEP_FLOOR``, with its confidence); the matched filter verifies ``pairs`` shortlisted pairs."""
    gt = json.loads((corpus / "ground_truth.json").read_text())
    rows = []
    for q in gt["queries"]:
        results = run_matchers(index, corpus / q["path"], pairs=pairs)
        for method, (found, seconds) in results.items():
            truth = {Path(e["library_path"]).name: e for e in q["embedded"]}
            found = credited(found, set(truth))
            row = {"query": q["id"], "tier": q["tier"], "negative": q["is_negative"], "method": method}
            row["seconds"] = seconds
            row["hits"] = []
            for name, e in truth.items():
                hit = name in found
                starts = [o["start_s"] for o in e["occurrences"]]
                err = None
                if hit and found[name][0]:
                    err = float(np.median([min(abs(s - g) for g in starts) for s in found[name][0]]))
                _, pitch, stretch, confidence, _ = found.get(name, ([], None, None, 0.0, []))
                t = e["transform"]
                pitch_ok = None if pitch is None else pitch == t["pitch_semitones"]
                stretch_ok = None if stretch is None else abs(stretch / _duration_ratio(t) - 1) <= 0.05
                row["hits"].append(
                    {
                        "name": name,
                        "kind": e["kind"],
                        "confidence": confidence,
                        "loc_err": err,
                        "pitch_ok": pitch_ok,
                        "stretch_ok": stretch_ok,
                    }
                )
            row["false"] = {name: found[name][3] for name in sorted(set(found) - set(truth))}
            rows.append(row)
        if on_query:
            on_query(q["id"])
    methods = ("matched-filter", "landmark baseline")
    return {m: _summary(at_threshold([r for r in rows if r["method"] == m], threshold)) for m in methods}, rows


def credited(found: Found, truth: set[str]) -> Found:
    """A match whose identical recordings include an embedded sample counts as that sample (one match either
    way: a group of identical files is reported once, so it is one true or one false match)."""
    out: Found = {}
    for name, value in found.items():
        held = [n for n in (name, *value[4]) if n in truth]
        out[held[0] if held else name] = value
    return out


def at_threshold(rows: list[dict], threshold: float) -> list[dict]:
    """The rows as a matcher with ``threshold`` would have produced them."""
    out = []
    for r in rows:
        hits = [
            h | {"found": True} if h["confidence"] >= threshold else h | dict.fromkeys(MEASURED) | {"found": False}
            for h in r["hits"]
        ]
        out.append(r | {"hits": hits, "false": sorted(n for n, c in r["false"].items() if c >= threshold)})
    return out


def _recall_precision_negatives(rows: list[dict]) -> tuple[float, float, float]:
    s = _summary(rows)
    negatives = next(v for k, v in s.items() if k.startswith("negative queries"))
    return s["recall (all embedded)"], s["precision"], negatives


def threshold_sweep(rows: list[dict]) -> list[tuple[float, float, float, float]]:
    """(threshold, recall, precision, share of negative queries matched) over ``SWEEP``."""
    return [(t, *_recall_precision_negatives(at_threshold(rows, t))) for t in SWEEP]


def fitted_threshold(rows: list[dict]) -> float:
    """The threshold of the sweep with the best recall that meets the precision and negative-query targets
    (the highest of the sweep when none does)."""
    sweep = threshold_sweep(rows)
    ok = [(r, -t, t) for t, r, p, n in sweep if p >= MIN_PRECISION and not n > MAX_NEGATIVE_SHARE]  # n: nan if none
    return max(ok)[2] if ok else SWEEP[-1]


def two_fold(rows: list[dict]) -> list[tuple[float, float, float, float]]:
    """Fit the threshold on every other query and score it on the rest, both ways round:
    (fitted threshold, held-out recall, precision, share of negative queries matched)."""
    ids = sorted({r["query"] for r in rows})
    out = []
    for half in (0, 1):
        fit = {q for i, q in enumerate(ids) if i % 2 == half}
        t = fitted_threshold([r for r in rows if r["query"] in fit])
        out.append((t, *_recall_precision_negatives(at_threshold([r for r in rows if r["query"] not in fit], t))))
    return out


def _duration_ratio(transform: dict) -> float:
    """Duration in the query / in the library: the stretch times the speed change of a varispeed shift."""
    varispeed = "varispeed" in (transform.get("pitch_method") or "")
    return transform["time_stretch"] * (2 ** (-transform["pitch_semitones"] / 12) if varispeed else 1.0)


def _summary(rows: list[dict]) -> dict[str, float]:
    hits = [h | {"tier": r["tier"]} for r in rows for h in r["hits"]]
    out: dict[str, float] = {}
    out["recall (all embedded)"] = float(np.mean([h["found"] for h in hits])) if hits else float("nan")
    for kind in ("one-shot", "phrase", "loop"):
        sel = [h["found"] for h in hits if h["kind"] == kind]
        out[f"recall {kind} (n={len(sel)})"] = float(np.mean(sel)) if sel else float("nan")
    for tier in sorted({h["tier"] for h in hits}):
        sel = [h["found"] for h in hits if h["tier"] == tier]
        out[f"recall tier {tier} (n={len(sel)})"] = float(np.mean(sel))
    tp = sum(h["found"] for h in hits)
    fp = sum(len(r["false"]) for r in rows)
    out["precision"] = tp / (tp + fp) if tp + fp else float("nan")
    neg = [r for r in rows if r["negative"]]
    matched = [bool(r["false"]) for r in neg]
    out[f"negative queries with a match (n={len(neg)})"] = float(np.mean(matched)) if neg else float("nan")
    errs = [h["loc_err"] for h in hits if h["loc_err"] is not None]
    out["median localisation error (s)"] = float(np.median(errs)) if errs else float("nan")
    pitch = [h["pitch_ok"] for h in hits if h["pitch_ok"] is not None]
    out["pitch exact (found samples)"] = float(np.mean(pitch)) if pitch else float("nan")
    stretch = [h["stretch_ok"] for h in hits if h["stretch_ok"] is not None]
    out["duration ratio within 5% (found)"] = float(np.mean(stretch)) if stretch else float("nan")
    out["mean query time (s)"] = float(np.mean([r["seconds"] for r in rows]))
    return out


def summary_rows(summaries: dict[str, dict[str, float]]) -> list[tuple[str, list[str]]]:
    """Rows (metric, [value per method]) for printing."""
    metrics: dict[str, list[str]] = defaultdict(list)
    for values in summaries.values():
        for k, v in values.items():
            metrics[k].append("n/a" if v != v else f"{v:.3f}")
    return list(metrics.items())
