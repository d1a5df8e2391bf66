"""Subtitles and the speaker summary, as specifications: properties over any messages (hypothesis), read back
through independent SRT/WebVTT parsers written here."""

from __future__ import annotations

import itertools
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from batch import speakers, subtitles

TIME = r"(\d\d):(\d\d):(\d\d)[,.](\d\d\d)"
SRT_CUE = re.compile(rf"^(\d+)\n{TIME} --> {TIME}\n((?:.+\n?)+)$")
VTT_CUE = re.compile(rf"^{TIME} --> {TIME}\n((?:.+\n?)+)$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_srt(text: str) -> list[tuple[float, float, list[str]]]:
    cues: list[tuple[float, float, list[str]]] = []
    if not text:
        return cues
    for n, block in enumerate(text.strip("\n").split("\n\n"), 1):
        match = SRT_CUE.match(block)
        assert match, block
        assert int(match.group(1)) == n
        groups = match.groups()
        cues.append((_seconds(*groups[1:5]), _seconds(*groups[5:9]), groups[9].rstrip("\n").split("\n")))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, list[str]]]:
    header, *blocks = text.strip("\n").split("\n\n")
    assert header == "WEBVTT"
    cues = []
    for block in blocks:
        match = VTT_CUE.match(block)
        assert match, block
        groups = match.groups()
        cues.append((_seconds(*groups[0:4]), _seconds(*groups[4:8]), groups[8].rstrip("\n").split("\n")))
    return cues


words = st.text(alphabet=st.sampled_from("abcdefghij<>&-"), min_size=1, max_size=14)
messages = st.lists(
    st.tuples(
        st.sampled_from(["m1", "m2", "m3"]),
        st.lists(words, min_size=1, max_size=60),
        st.floats(min_value=0.0, max_value=40.0),
        st.floats(min_value=0.1, max_value=30.0),
    ),
    max_size=8,
)


def as_messages(drawn: list[tuple[str, list[str], float, float]]) -> list[dict[str, Any]]:
    out, offset = [], 0.0
    names = {"m1": "Ann Lee", "m2": "Bo <b>Chen</b>", "m3": "Ann Lee"}  # m3: a second member called Ann Lee
    for n, (member, text, gap, duration) in enumerate(drawn):
        offset += gap
        out.append(
            {
                "id": str(n),
                "text": " ".join(text),
                "from": {"id": member, "name": names[member]},
                "timeOffset": offset,
                "duration": duration,
            }
        )
        offset += duration
    return out


@given(messages)
def test_srt_cues_are_short_named_and_keep_every_word_in_its_message_span(drawn: Any) -> None:
    """Every cue: at most two lines of 42 characters (a longer word alone on its line), at most 6 s, inside its
    message's span, the speaker's label first; the cues' words, in order, are the messages' words (with `<`, `>`
    shown as single angle quotes: nothing becomes a tag)."""
    found = as_messages(drawn)
    cues = parse_srt(subtitles.srt(found))
    spans = [(m["timeOffset"], m["timeOffset"] + m["duration"]) for m in found]
    told: list[str] = []
    for start, end, lines in cues:
        assert 1 <= len(lines) <= 2
        assert all(len(line) <= 42 or " " not in line.split(": ", 1)[-1] for line in lines)
        assert end - start <= 6.0 + 0.002
        assert any(a - 0.001 <= start <= end <= b + 0.001 for a, b in spans)
        label, first = lines[0].split(": ", 1)
        assert label in {"Ann Lee", "Ann Lee (2)", "Bo \u2039b\u203aChen\u2039/b\u203a"}
        told += [first, *lines[1:]]
    expected = " ".join(m["text"] for m in found).replace("<", "\u2039").replace(">", "\u203a")
    assert " ".join(told).split() == expected.split()
    assert "<" not in subtitles.srt(found)


@given(messages)
def test_vtt_cues_are_voice_spans_with_escaped_text(drawn: Any) -> None:
    """WebVTT: a `<v Label>` span opens every cue, the text is escaped (no tag, no `-->` from the API), each cue
    at most two lines of 42 characters and 6 s; the words, unescaped, are the messages' words in order."""
    found = as_messages(drawn)
    text = subtitles.vtt(found)
    told: list[str] = []
    for start, end, lines in parse_vtt(text):
        assert end - start <= 6.0 + 0.002 and 1 <= len(lines) <= 2
        match = re.match(r"^<v ([^>]+)>(.*)$", lines[0])
        assert match, lines[0]
        assert match.group(1) in {"Ann Lee", "Ann Lee (2)", "Bo &lt;b&gt;Chen&lt;/b&gt;"}
        body = [match.group(2), *lines[1:]]
        assert all("<" not in line and ">" not in line for line in body)
        assert all(len(line.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) <= 42 or " " not in line
                   for line in body)
        told += body
    unescaped = " ".join(told).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert unescaped.split() == " ".join(m["text"] for m in found).split()


@given(messages)
def test_the_speaker_summary_accounts_for_every_message(drawn: Any) -> None:
    """A row per member id; talk times add up to the messages' durations, shares to 1, words to the messages'
    words; a turn is a run of one member's consecutive messages; longest talk first."""
    found = as_messages(drawn)
    summary = speakers.summary(found)
    assert {line.member_id for line in summary} == {m["from"]["id"] for m in found}
    assert abs(sum(line.talk_seconds for line in summary) - sum(m["duration"] for m in found)) < 1e-6
    assert not summary or abs(sum(line.share for line in summary) - 1.0) < 1e-9
    assert sum(line.words for line in summary) == sum(len(m["text"].split()) for m in found)
    runs = [m["from"]["id"] for n, m in enumerate(found) if n == 0 or found[n - 1]["from"]["id"] != m["from"]["id"]]
    assert {line.member_id: line.turns for line in summary} == {k: runs.count(k) for k in set(runs)}
    assert [line.talk_seconds for line in summary] == sorted((line.talk_seconds for line in summary), reverse=True)
    assert speakers.from_dicts([line.as_dict() for line in summary]) == [
        speakers.SpeakerLine(x.member_id, x.name, round(x.talk_seconds, 2), round(x.share, 4), x.words, x.turns)
        for x in summary
    ]


def test_a_long_message_is_cut_into_cues_that_share_its_time_by_length() -> None:
    """One 20-second message of 60 words: cues follow one another without gaps, each at most 6 s, the first
    beginning at the message's start and the last ending at its end."""
    text = " ".join(f"word{n}" for n in range(60))
    message = {"id": "1", "text": text, "from": {"id": "a", "name": "Kenji Mori"}, "timeOffset": 10.0, "duration": 20.0}
    cues = parse_srt(subtitles.srt([message]))
    assert len(cues) >= 4
    assert cues[0][0] == 10.0 and abs(cues[-1][1] - 30.0) < 0.002
    assert all(abs(a[1] - b[0]) < 0.002 for a, b in itertools.pairwise(cues))
    assert all(cue[2][0].startswith("Kenji Mori: ") for cue in cues)
