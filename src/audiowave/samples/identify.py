"""Sample identification as the pipeline uses it: find library samples in the mix and in its stems.

:class:`LocalSampleMatcher` matches against an index held in this process; the Ray service puts the
same class in shard actors (``actors/sample_shards.py``) and merges their answers with
:func:`merge_found`. Matches are cached by the content hash of the audio searched (plus the index version
and threshold), so analysing the same audio again costs nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import fsspec
import numpy as np

from audiowave.config import Settings
from audiowave.samples import timbre
from audiowave.samples.descriptors import DESCRIPTOR_VERSION, SAMPLE_RATE
from audiowave.samples.identical import Signature, group_recordings
from audiowave.samples.index_store import SampleIndex, catalog_version, index_version, read_sources
from audiowave.samples.matcher import DEFAULT_THRESHOLD, Occurrence, SampleMatch, match
from audiowave.schema import BackendInfo, SampleAlternative, SampleMatchResult, SampleOccurrence

BACKEND = BackendInfo(
    name="audiowave-matched-filter",
    version=DESCRIPTOR_VERSION,
    model="chunked waveform matched filter, whitened against the track's background, pitch -3..+3 st,"
    " stretch 0.85..1.15",
    note="signal processing; no trained model",
)


@dataclass
class FoundSample:
    """A match plus what the caller needs without the index: sample metadata, file URL, source searched, the
    recording's signature, and the other files holding the same recording (filled by :func:`merge_found`)."""

    match: SampleMatch
    meta: dict[str, Any]
    url: str
    source: str
    signature: Signature
    alternatives: list[FoundSample] = dataclasses.field(default_factory=list)
    similar: list[FoundSample] = dataclasses.field(default_factory=list)

    def to_result(self) -> SampleMatchResult:
        m = self.match
        return SampleMatchResult(
            library=self.meta["library"],
            path=self.meta["path"],
            pack=self.meta["pack"],
            name=self.meta["name"],
            content_hash=self.meta["key"],
            kind=self.meta["kind"],
            licence=self.meta["licence"],
            duration_s=round(float(self.meta["duration_s"]), 3),
            confidence=m.confidence,
            pitch_semitones=m.pitch_semitones,
            time_stretch=m.time_stretch,
            gain_db=m.gain_db,
            sample_offset_s=m.sample_offset_s,
            source=self.source,
            occurrences=[SampleOccurrence(start_s=o.start_s, end_s=o.end_s, score=o.ncc) for o in m.occurrences],
            alternatives=[a.as_alternative() for a in self.alternatives],
            similar=[a.as_alternative() for a in self.similar],
        )

    def as_alternative(self) -> SampleAlternative:
        return SampleAlternative(
            library=self.meta["library"],
            path=self.meta["path"],
            name=self.meta["name"],
            content_hash=self.meta["key"],
            gain_db=self.match.gain_db,
            confidence=self.match.confidence,
        )


@dataclass
class SimilarSample:
    """A library sample near a sound by timbre (:mod:`timbre`), not found in it."""

    meta: dict[str, Any]
    url: str
    similarity: float
    shift: int  # semitones to play it at
    onset_s: float  # where the sound starts in the library file


class SampleMatcher(Protocol):
    """What the pipeline needs: a backend, a description of the index, and ``find``."""

    backend: BackendInfo
    description: str
    version: str

    def find(
        self, sources: list[tuple[str, np.ndarray]], sample_rate: int, threshold: float
    ) -> tuple[list[FoundSample], list[str]]:
        """Matches over all ``(name, mono)`` sources, best per sample; and the sources answered from cache."""
        ...


def merge_found(lists: list[list[FoundSample]]) -> list[FoundSample]:
    """One match per recording, best first: the most confident match of each library sample over sources or
    shards; files holding the same recording at other gains are one match, named by the file whose gain in the
    track is nearest 0 dB (the level it would be used at), the others its alternatives; other recordings of a
    match's sound heard only where it is are its similar files (:mod:`audiowave.samples.identical`)."""
    best: dict[str, FoundSample] = {}
    for found in lists:
        for f in found:
            key = f.meta["key"]
            if key not in best or f.match.confidence > best[key].match.confidence:
                best[key] = f
    ranked = sorted(best.values(), key=lambda f: -f.match.confidence)
    folded = group_recordings(
        ranked, lambda f: f.signature, lambda f: f.match.gain_db, lambda f: [o.start_s for o in f.match.occurrences]
    )
    return [dataclasses.replace(named, alternatives=same, similar=similar) for named, same, similar in folded]


class MatchCache:
    """Matches per searched audio, keyed by its content hash; in memory (LRU) and optionally in a folder."""

    def __init__(self, directory: str | None = None, size: int = 256) -> None:
        self.directory, self.size = directory, size
        self._memory: OrderedDict[str, list[SampleMatch]] = OrderedDict()

    @staticmethod
    def key(audio: np.ndarray, sample_rate: int, threshold: float, version: str) -> str:
        h = hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes())
        h.update(f"{sample_rate}:{threshold}:{version}".encode())
        return h.hexdigest()

    def get(self, key: str) -> list[SampleMatch] | None:
        if key in self._memory:
            self._memory.move_to_end(key)
            return self._memory[key]
        if self.directory:
            fs, path = fsspec.core.url_to_fs(f"{self.directory}/{key}.json")
            if fs.exists(path):
                found = [_match_from_dict(d) for d in json.loads(fs.cat_file(path))]
                self._remember(key, found)
                return found
        return None

    def put(self, key: str, found: list[SampleMatch]) -> None:
        self._remember(key, found)
        if self.directory:
            fs, path = fsspec.core.url_to_fs(f"{self.directory}/{key}.json")
            fs.makedirs(fs._parent(path), exist_ok=True)
            fs.pipe_file(path, json.dumps([dataclasses.asdict(m) for m in found]).encode())

    def _remember(self, key: str, found: list[SampleMatch]) -> None:
        self._memory[key] = found
        self._memory.move_to_end(key)
        while len(self._memory) > self.size:
            self._memory.popitem(last=False)


def _match_from_dict(d: dict[str, Any]) -> SampleMatch:
    return SampleMatch(**{**d, "occurrences": [Occurrence(**o) for o in d["occurrences"]]})


class LocalSampleMatcher:
    """Matches against a :class:`SampleIndex` in this process."""

    backend = BACKEND

    def __init__(self, index: SampleIndex, sources: dict[str, str], cache: MatchCache | None = None) -> None:
        self.index, self.sources, self.cache = index, sources, cache or MatchCache()
        hours = sum(e.descriptor.duration_s for e in index.entries) / 3600
        self.description = f"{len(index.entries)} samples, {hours:.2f} h"
        self.version = index.version

    @classmethod
    def load(
        cls, index_dir: str | Path, part: tuple[int, int] | None = None, cache_dir: str | None = None
    ) -> LocalSampleMatcher:
        matcher = cls(SampleIndex.load(index_dir, part), read_sources(index_dir), MatchCache(cache_dir))
        matcher.description = f"{index_dir}: {matcher.description}"
        return matcher

    def find(
        self, sources: list[tuple[str, np.ndarray]], sample_rate: int, threshold: float = DEFAULT_THRESHOLD
    ) -> tuple[list[FoundSample], list[str]]:
        per_source, cached = [], []
        for name, mono in sources:
            key = MatchCache.key(mono, sample_rate, threshold, self.version)
            found = self.cache.get(key)
            if found is None:
                found = match(self.index, mono, sample_rate, threshold)
                self.cache.put(key, found)
            else:
                cached.append(name)
            per_source.append([self._found(m, name) for m in found])
        return merge_found(per_source), cached

    def similar(self, mono: np.ndarray, sample_rate: int, count: int) -> list[SimilarSample]:
        """The ``count`` library samples nearest ``mono`` (a sound from its onset) by timbre, most similar first."""
        entries, library = self.index.timbres
        near = timbre.nearest(timbre.query_spectrogram(mono, sample_rate), library, count)
        out = []
        for n in near:
            entry = self.index.entries[entries[n.entry]]
            onset_s = float(entry.descriptor.starts[0]) / SAMPLE_RATE
            out.append(SimilarSample(entry.meta, self.url_of(entry.meta), n.similarity, n.shift, onset_s))
        return out

    def url_of(self, meta: dict[str, Any]) -> str:
        """Where the library file of an entry lives (fsspec URL); empty when the index does not record it."""
        root = self.sources.get(meta["library"], "")
        return f"{root}/{meta['path']}" if root else ""

    def _found(self, m: SampleMatch, source: str) -> FoundSample:
        meta = self.index.entries[m.entry].meta
        return FoundSample(m, meta, self.url_of(meta), source, Signature.of(self.index.entries[m.entry].descriptor))


def missing_index(index_dir: Path) -> str | None:
    """Why there is no usable sample index at ``index_dir`` (with how to build one), or None."""
    version = catalog_version(index_dir)
    if version == DESCRIPTOR_VERSION:
        return None
    if version is None:
        return f"no sample index at {index_dir} (build one with `audiowave index LIBRARY --index {index_dir}`)"
    return (
        f"the sample index at {index_dir} was built for another matcher version ({version or 'mf1'}, this is"
        f" {DESCRIPTOR_VERSION}): run `audiowave index LIBRARY --index {index_dir}` again to rebuild it"
    )


_LOADED: dict[tuple[str, str], LocalSampleMatcher] = {}  # per index and match cache: the last version loaded


def load_sample_matcher(settings: Settings) -> tuple[LocalSampleMatcher | None, str | None]:
    """The local matcher over the configured index (cache under <home>/cache/samples), or why there is none.

    Kept per process while the index's version stays the same, so a worker's recipe jobs do not read the index and
    build its candidate and timbre summaries again each time."""
    index_dir = settings.resolved_sample_index
    if reason := missing_index(index_dir):
        return None, reason
    key = (str(index_dir), str(settings.home / "cache" / "samples"))
    loaded = _LOADED.get(key)
    if loaded is None or loaded.version != index_version(index_dir):
        loaded = _LOADED[key] = LocalSampleMatcher.load(index_dir, cache_dir=key[1])
    return loaded, None
