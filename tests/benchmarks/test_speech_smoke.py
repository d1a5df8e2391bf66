"""The speech set builder's pure parts and the speech benchmark runner, fast and without a synthesizer: scene
declarations, layout and mixing maths, noise and reverberation measured back, the truth writer, and the runner
end to end on a tiny set with a stand-in pipeline (the real one is `python -m tests.benchmarks.speech`)."""

from __future__ import annotations

import itertools
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from speech.models import Transcript, Utterance, Word
from tests.benchmarks import speech
from tests.benchmarks.speechset import acoustics, build, recording, scene
from tests.benchmarks.speechset.meeting import Composer
from tests.benchmarks.speechset.scene import Condition, Line, SceneError, Timing

RATE = 16_000
TIMING = Timing(edge=0.5, overlap=0.3, overlap_range=(0.2, 0.5), quick=0.4, quick_range=(0.1, 0.3),
                slow_range=(0.4, 1.0), overlap_after=1.5)


def test_declared_set_meets_its_brief() -> None:
    """The committed scenes parse and validate: 3 dev and at least 6 test conversations, at least 10 held-out
    test voices sharing no source with dev or the corpus, two append splits, one formats copy, a 30-minute meeting."""
    scenes, cast, phrases = scene.load(build.HERE, build.ROOT / "corpus" / "cast.toml")
    by_split = {s: [c for c in scenes.conversations if c.split == s] for s in scene.SPLITS}
    assert len(by_split["dev"]) == 3 and len(by_split["test"]) >= 6
    test_voices = {line.speaker for c in by_split["test"] for line in c.lines}
    assert len({cast[k].source for k in test_voices}) >= 10
    assert {cast[k].split for k in test_voices} == {"test"}
    assert sum(c.split_at is not None for c in by_split["test"]) == 2 and any(c.formats for c in by_split["test"])
    assert max(m.minutes for m in scenes.meetings if m.split == "test") >= 30
    assert all(2 <= len({line.speaker for line in c.lines}) <= 4 for c in scenes.conversations)
    assert {"slots", "moves"} <= phrases.keys()


def test_append_parts_share_a_person() -> None:
    """Each append split leaves at least one person speaking in both parts."""
    scenes, _, _ = scene.load(build.HERE, build.ROOT / "corpus" / "cast.toml")
    for c in scenes.conversations:
        if c.split_at is not None:
            first, second = ({line.speaker for line in half} for half in (c.lines[: c.split_at], c.lines[c.split_at :]))
            assert first & second


def test_validation_names_the_bad_entry() -> None:
    """A test voice reusing a corpus or dev source, an unknown engine, or a speaker of the wrong split is refused."""
    cast_toml = tomllib.loads((build.HERE / "cast.toml").read_text())
    cast_toml["people"]["daniel"]["source"] = "awb"
    cast = scene.parse_cast(cast_toml)
    scenes = scene.parse_scenes(tomllib.loads((build.HERE / "scenes.toml").read_text()))
    with pytest.raises(SceneError, match="daniel"):
        scene.validate(scenes, cast, {"awb", "slt"})
    with pytest.raises(SceneError, match="engine"):
        scene.parse_cast({"people": {"x": {"name": "X", "split": "dev", "engine": "say", "voice": "v", "source": "v"}}})
    cast_toml["people"]["daniel"]["split"] = "dev"
    with pytest.raises(SceneError, match="daniel"):
        scene.validate(scenes, scene.parse_cast(cast_toml), set())


def _lines(speakers: str) -> list[Line]:
    return [Line(s, f"line {i}") for i, s in enumerate(speakers)]


def test_layout_overlaps_only_where_allowed() -> None:
    """Gaps fall in their ranges; an overlap follows only a long line of another speaker that ends last, so at
    most two people talk at once; the layout is the same for the same seed."""
    lines = _lines("abacbcaabcab" * 8)
    lengths = [int(RATE * (0.8 + (i * 7 % 5) * 0.6)) for i in range(len(lines))]
    starts = scene.layout(lengths, lines, TIMING, RATE, seed=5)
    assert starts == scene.layout(lengths, lines, TIMING, RATE, seed=5)
    assert starts[0] == TIMING.edge * RATE
    overlaps, ends = 0, [s + n for s, n in zip(starts, lengths, strict=True)]
    for i in range(1, len(lines)):
        gap = (starts[i] - max(ends[:i])) / RATE
        if gap < 0:
            overlaps += 1
            assert 0.2 <= -gap <= 0.5 + 1e-4 and lengths[i - 1] >= 1.5 * RATE
            assert lines[i].speaker != lines[i - 1].speaker and ends[i - 1] == max(ends[:i])
        else:
            assert 0.1 - 1e-4 <= gap <= 1.0 + 1e-4
    assert overlaps > 0
    mask = np.zeros(max(ends) + 1, dtype=np.int64)
    for s, e in zip(starts, ends, strict=True):
        mask[s:e] += 1
    assert mask.max() == 2


def test_forced_gap_does_not_shift_later_draws() -> None:
    """A forced gap moves the lines after it but leaves their random gaps unchanged (three draws per line)."""
    lines = _lines("abab" * 5)
    lengths = [RATE] * len(lines)
    free = scene.layout(lengths, lines, TIMING, RATE, seed=9)
    forced_lines = [*lines[:3], Line(lines[3].speaker, lines[3].text, 2.0), *lines[4:]]
    forced = scene.layout(lengths, forced_lines, TIMING, RATE, seed=9)
    assert forced[3] - forced[2] == RATE + 2 * RATE
    assert np.diff(forced[4:]).tolist() == np.diff(free[4:]).tolist()


def test_mix_sums_overlaps_and_limits_only_clipping() -> None:
    """Overlapped pieces add up; a mix is scaled down only when its peak would exceed the limit."""
    out = acoustics.mix([np.full(4, 0.25), np.full(4, 0.5)], [0, 2], 8)
    assert out.tolist() == [0.25, 0.25, 0.75, 0.75, 0.5, 0.5, 0.0, 0.0]
    assert acoustics.to_pcm16(np.array([0.5, -0.25])).tolist() == [16384, -8192]
    loud = acoustics.to_pcm16(np.array([1.8, -0.9]))
    assert loud.tolist() == [round(acoustics.PEAK * 32767), round(-acoustics.PEAK / 2 * 32767)]


@pytest.mark.parametrize("snr_db", [20.0, 10.0, 0.0])
def test_noise_at_requested_snr(snr_db: float) -> None:
    """Noise is added so that speech power on the speech samples over noise power is the requested SNR."""
    rng = np.random.default_rng(1)
    speech_part = np.sin(np.arange(RATE) * 0.05) * 0.3
    clean = acoustics.mix([speech_part, speech_part], [RATE // 2, 2 * RATE], 4 * RATE)
    active = acoustics.active_mask([(RATE // 2, RATE // 2 + RATE), (2 * RATE, 3 * RATE)], 4 * RATE)
    noise = acoustics.pink_noise(len(clean), rng) + 0.5 * acoustics.hum(len(clean), RATE, rng)
    noisy = acoustics.add_noise(clean, noise, active, snr_db)
    assert acoustics.measured_snr(clean, noisy, active) == pytest.approx(snr_db, abs=1e-9)
    assert 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2)) < snr_db  # pauses excluded on purpose


def test_pink_noise_falls_ten_db_per_decade() -> None:
    """The noise's power density at 1.5 kHz is a tenth of that at 150 Hz (1/f), and its power is one."""
    noise = acoustics.pink_noise(RATE * 8, np.random.default_rng(2))
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(len(noise), 1 / RATE)
    low, high = power[(freqs > 100) & (freqs < 200)].mean(), power[(freqs > 1000) & (freqs < 2000)].mean()
    assert 10 * np.log10(low / high) == pytest.approx(10.0, abs=1.0)
    assert np.mean(noise**2) == pytest.approx(1.0)


@pytest.mark.parametrize(("rt60", "drr_db"), [(0.25, 8.0), (0.4, 3.0)])
def test_impulse_response_has_its_rt60_and_drr(rt60: float, drr_db: float) -> None:
    """The synthetic room decays 60 dB in about rt60 seconds and its direct path carries drr_db over the rest."""
    response = acoustics.impulse_response(rt60, drr_db, RATE, np.random.default_rng(3))
    assert acoustics.decay_time(response, RATE) == pytest.approx(rt60, rel=0.12)
    assert 10 * np.log10(response[0] ** 2 / np.sum(response[1:] ** 2)) == pytest.approx(drr_db, abs=1e-9)
    wet = acoustics.reverberate(np.r_[1.0, np.zeros(RATE)], response)
    assert np.allclose(wet[: len(response)], response)


def _studio(out: Path) -> recording.Studio:
    """A studio whose 'voices' are tones (no synthesizer): a at 220 Hz, b at 330 Hz."""
    t = np.arange(RATE * 2) / RATE
    pieces = {(k, f"{k} says {i}."): (np.sin(2 * np.pi * f * t[: RATE + i * 1600]) * 20000).astype(np.int16)
              for k, f in (("a", 220), ("b", 330)) for i in range(4)}
    cast = {k: scene.Voice(k, k.upper(), "test", "flite", "v", k) for k in ("a", "b")}
    return recording.Studio(cast, pieces, TIMING, out)


CONDITIONS = (Condition("clean"), Condition("noisy", snr_db=10.0, rt60=0.4, drr_db=3.0, hum=True))


def _tiny_set(out: Path) -> list[dict[str, object]]:
    studio = _studio(out)
    lines = [Line(k, f"{k} says {i}.") for i in range(4) for k in ("a", "b")]
    rec = recording.lay_out(studio, lines, rec_id="tones", split="test", seed=4)
    entries = recording.write_conditions(studio, rec, CONDITIONS, seed=4)
    (out / "index.json").write_text(json.dumps({"rate": RATE, "voices": {}, "files": entries}))
    return entries


def test_truth_is_exact_to_the_sample(tmp_path: Path) -> None:
    """Each written file has its truth beside it, utterance times are the pieces' sample positions, and the
    noisy copy reports the SNR it was built at."""
    entries = _tiny_set(tmp_path)
    assert [e["media"] for e in entries] == ["test/tones.clean.wav", "test/tones.noisy.wav"]
    clean = json.loads((tmp_path / "test" / "tones.clean.wav.json").read_text())
    noisy = json.loads((tmp_path / "test" / "tones.noisy.wav.json").read_text())
    assert noisy["snr_db"] == pytest.approx(10.0) and noisy["rt60"] == pytest.approx(0.4, rel=0.12)
    assert clean["utterances"] == noisy["utterances"] and clean["speakers"] == {"a": "A", "b": "B"}
    first = clean["utterances"][0]
    assert (first["start"], first["end"]) == (0.5, 0.5 + 1.0) and entries[0]["speakers"] == 2


def test_meeting_composer_is_seeded_and_varied() -> None:
    """A meeting is the same for the same seed, uses only its speakers, hands an asked question to the person
    named, and repeats a sentence only when it has no slots to vary."""
    scenes, cast, phrases = scene.load(build.HERE, build.ROOT / "corpus" / "cast.toml")
    meeting = max(scenes.meetings, key=lambda m: m.minutes)
    one, two = Composer(meeting, cast, phrases), Composer(meeting, cast, phrases)
    lines = one.opening() + [line for _ in range(20) for line in one.block()]
    assert lines == two.opening() + [line for _ in range(20) for line in two.block()]
    assert {line.speaker for line in lines} == set(meeting.speakers)
    texts = [line.text for line in lines]
    fixed = {t for bank in phrases["moves"].values() for t in bank if "{" not in t}
    assert {t for t in texts if texts.count(t) > 1} <= fixed  # only slot-free replies ("I agree with that.") recur
    first_names = {cast[k].name.split()[0]: k for k in meeting.speakers}
    for asked, answer in itertools.pairwise(lines):
        named = [k for name, k in first_names.items() if asked.text.startswith(name + ",")]
        if named and asked.text.endswith("?"):
            assert answer.speaker == named[0]


# A stand-in for speech.pipeline.Pipeline with the same interface and records: it "recognises" the truth written
# beside the file, so the runner's plumbing can be tested without models. Never used outside these tests.


class OraclePipeline:
    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads

    def process_file(self, path: Path, *, diarize: bool = True, speaker_count: int | None = None) -> Transcript:
        truth = json.loads(path.with_name(path.name + ".json").read_text())
        labels = {k: i for i, k in enumerate(truth["speakers"])}
        utterances = []
        for u in truth["utterances"]:
            speaker = labels[u["speaker"]] if diarize else None
            texts = u["text"].split()
            step = (u["end"] - u["start"]) / len(texts)
            words = tuple(Word(w, u["start"] + i * step, u["start"] + (i + 1) * step, 1.0, speaker)
                          for i, w in enumerate(texts))
            utterances.append(Utterance(speaker, u["start"], u["end"], u["text"], words))
        return Transcript(truth["duration"], tuple(utterances), len(labels) if diarize else 0)


def test_runner_end_to_end_with_a_stand_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The runner runs each file in child processes, scores it beside the scripted baseline, prints the table
    and writes every figure: a pipeline that returns the truth scores perfectly, the baseline does not."""
    _tiny_set(tmp_path)
    results = tmp_path / "results.json"
    code = speech.main(["--set", str(tmp_path), "--split", "test", "--results", str(results), "-v",
                        "--pipeline", "tests.benchmarks.test_speech_smoke:OraclePipeline"])
    assert code == 0
    body = json.loads(results.read_text())
    rows = {row["row"]: row for row in body["rows"]}
    assert set(rows) == {"test clean wav16k", "test noisy wav16k"}
    ours, given, base = rows["test clean wav16k"]["ours"], rows["test clean wav16k"]["ours_count_given"], \
        rows["test clean wav16k"]["baseline"]
    assert ours["wer"] == 0 and ours["cpwer"] == 0 and ours["der"]["rate"] == 0 and ours["right_speaker"] == 1
    assert ours["count_exact"] == 1 and given["count_exact"] == 1
    assert base["wer"] > 0.5 and base["speakers_found"] == 1 and base["count_exact"] == 0
    assert all(f["peak_rss_mb"] > 0 and f["process_s"] >= 0 for f in body["files"])
    table = capsys.readouterr().out
    assert "test noisy wav16k" in table and "tones.clean.wav" in table


def test_peak_rss_is_the_childs_not_the_benchmarks(tmp_path: Path) -> None:
    """A large benchmark process does not inflate the peak RSS it reports for a run: Linux carries the exec-ing
    parent's peak into the child's ru_maxrss, so runs go through a small launcher."""
    _tiny_set(tmp_path)
    ballast = np.ones(400 << 20, dtype=np.uint8)  # 400 MB resident in this process
    run = speech.measure(tmp_path / "test" / "tones.clean.wav", cpu=0, count=None,
                         pipeline="tests.benchmarks.test_speech_smoke:OraclePipeline")
    assert run.error is None and run.output is not None
    assert 0 < run.peak_rss_mb < 300 and ballast.sum() == 400 << 20
    assert run.output["vmhwm_mb"] == pytest.approx(run.peak_rss_mb, rel=0.2)
