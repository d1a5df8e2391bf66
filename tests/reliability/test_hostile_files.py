"""The hostile-input catalogue, continued: the places a run writes (output, state), a state file someone edited,
review files, and what the command line prints for them: one sentence naming the file, exit code 2, and
nothing sent (every check here runs before any network object exists)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from batch import InputError, StateError, Store, load_manifest, open_run
from batch.status import read as read_status
from reconcile import Answer, Candidate, Member, Quote, ReviewError, ReviewItem, read_review
from reconcile.review import render
from tests.support.processes import cli
from tests.support.server import CORPUS

SEG = '[[conversations]]\nid = "c"\n  [[conversations.segments]]\nfile = "a.wav"\n'
KEYS = (
    "candidates, clip, conversation, conversation_id, email, identity, member_id, members, name, names, new_name, "
    "quotes, reason, segment, segments, talk_seconds, voice"
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(CORPUS / "media" / "solo-memo.wav", tmp_path / "a.wav")
    (tmp_path / "afile").write_text("not a directory\n")
    (tmp_path / "adir").mkdir()
    return tmp_path


def manifest(folder: Path, api: str) -> Path:
    path = folder / "m.toml"
    path.write_text(f'[api]\napp_id = "a"\napp_secret = "s"\nbase_url = "http://127.0.0.1:9"\n{api}\n{SEG}')
    return path


RUN_PATH_CASES = [
    (
        "output_is_a_file",
        'output = "afile"',
        "{d}/afile: the output directory (api.output or --output) is a file, not a directory; give a directory path, new or existing",
    ),
    (
        "output_parent_is_a_file",
        'output = "afile/out"',
        "{d}/afile/out: cannot create the output directory (api.output or --output), because {d}/afile is a file; give a path in a directory",
    ),
    (
        "output_is_a_device",
        'output = "/dev/null"',
        "/dev/null: the output directory (api.output or --output) is a character device, not a directory; give a directory path, new or existing",
    ),
    (
        "output_name_over_255_bytes",
        f'output = "{"o" * 300}"',
        "{d}/" + "o" * 300 + ": cannot use this path (File name too long); give another one",
    ),
    (
        "state_is_a_directory",
        'state = "adir"',
        "{d}/adir: the state file (api.state or --state) is a directory; give the path of a file, new or existing",
    ),
    (
        "state_parent_is_a_file",
        'state = "afile/s.sqlite"',
        "{d}/afile/s.sqlite: the state file's directory {d}/afile is a file, not a directory; give a path in a directory",
    ),
    (
        "state_grandparent_is_a_file",
        'state = "afile/x/s.sqlite"',
        "{d}/afile/x/s.sqlite: cannot create the state file's directory, because {d}/afile is a file; give a path in a directory",
    ),
    (
        "state_lock_is_a_directory",
        'state = "s.sqlite"',
        "{d}/s.sqlite.lock: the state's lock file is a directory; give the path of a file, new or existing",
    ),
]


@pytest.mark.parametrize(("name", "api", "message"), RUN_PATH_CASES, ids=[c[0] for c in RUN_PATH_CASES])
async def test_a_run_refuses_output_and_state_paths_it_cannot_use(
    folder: Path, name: str, api: str, message: str
) -> None:
    """open_run checks the output and state paths before it locks or sends anything; loading does not."""
    (folder / "s.sqlite.lock").mkdir()
    path = manifest(folder, api)
    load_manifest(path, environ={})  # loading (and so a dry run) writes nothing and checks nothing here
    with pytest.raises(InputError) as caught:
        async with open_run(path):
            pass
    assert str(caught.value) == message.format(d=folder)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory nobody can create files in, with the reason the OS gives. Mode 0555 stops everyone but root;
    for root (as in this project's containers) the directory is made immutable instead, or the test skipped."""
    directory = tmp_path / "ro"
    directory.mkdir()
    if os.geteuid() != 0:
        directory.chmod(0o555)
        yield directory, "Permission denied"
        directory.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    immutable = chattr is not None and subprocess.run([chattr, "+i", directory], check=False).returncode == 0
    if chattr is None or not immutable:
        pytest.skip("as root, mode 0555 does not stop writes, and chattr +i (an immutable directory) is unavailable")
    try:
        yield directory, "Operation not permitted"
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)


async def test_a_run_refuses_a_read_only_output_or_state_directory(folder: Path, read_only: tuple[Path, str]) -> None:
    """Writing is tried for real (a temporary file), so it holds for root and read-only mounts too."""
    directory, reason = read_only
    cases = {
        f'output = "{directory}"': f"{directory}: cannot write in the output directory (api.output or --output): "
        f"{reason}; give a writable directory",
        f'output = "{directory}/new"': f"{directory}/new: cannot write in the output directory (api.output or "
        f"--output) (it would be created in {directory}): {reason}; give a writable directory",
        f'state = "{directory}/s.sqlite"': f"{directory}/s.sqlite: cannot write in the state file's directory: "
        f"{reason}; give a writable directory",
    }
    for api, message in cases.items():
        with pytest.raises(InputError) as caught:
            async with open_run(manifest(folder, api)):
                pass
        assert str(caught.value) == message


STATE_CASES = [  # column, the value a hand edit left, the message's end
    (
        "status",
        "bogus",
        "column status: 'bogus' is not a known status (pending, submitting, submitted, unknown, recovered, finished, "
        "saved, failed, timed_out, stuck, blocked)",
    ),
    ("evidence", "{not json", "column evidence: '{not json' is not a JSON object"),
    ("evidence", "[1]", "column evidence: '[1]' is not a JSON object"),
    ("message_ids", "[1, 2]", "column message_ids: '[1, 2]' is not a JSON list of ids"),
    ("message_ids", "9" * 5000, "column message_ids: '" + "9" * 56 + "... is not a JSON list of ids"),
    ("idx", "first", "column idx: 'first' is not an integer"),
    ("attempts", 2.5, "column attempts: 2.5 is not an integer"),
]


@pytest.mark.parametrize(
    ("column", "value", "problem"), STATE_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(STATE_CASES)]
)
def test_a_hand_edited_state_row_is_a_state_error(tmp_path: Path, column: str, value: object, problem: str) -> None:
    """A row a run (or `status`) cannot read names the state file, the row and the column; nothing crashes."""
    state = tmp_path / "state.sqlite"
    with Store(state) as store:
        store.insert("c/1", "c", 0, "fp")
        store.insert("c/2", "c", 1, "fp")
    with sqlite3.connect(state) as db:
        db.execute(f"UPDATE segments SET {column}=? WHERE key='c/2'", (value,))  # a column of the table
    message = f"{state}: row 'c/2', {problem}; fix the row or move the state file away to start afresh"
    with pytest.raises(StateError) as caught, Store(state) as store:
        list(store.rows().values())  # rows are read when they are asked for: every one of them here
    assert str(caught.value) == message
    with pytest.raises(StateError) as caught, Store(state) as store:
        store.rows()["c/2"]
    assert str(caught.value) == message
    with pytest.raises(StateError) as caught:
        read_status(state)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("{broken", "not JSON"),
        ("[1]", "not a JSON object"),
        ('{"in_use": "two", "ceiling": 5}', "holding in_use = 'two', not a number"),
        ('{"in_use": 1}', "missing a number ceiling"),
    ],
)
def test_a_hand_edited_progress_record_is_a_state_error(tmp_path: Path, value: str, problem: str) -> None:
    """`status` prints the run's last progress; a broken one is named, not a KeyError or a decoding error."""
    state = tmp_path / "state.sqlite"
    with Store(state) as store:
        store.db.execute("INSERT INTO meta VALUES ('progress', ?)", (value,))
    with pytest.raises(StateError) as caught:
        read_status(state)
    assert str(caught.value) == (
        f"{state}: the run's progress (meta key 'progress') is {problem}; "
        "run the manifest again to rewrite it, or move the state file away to start afresh"
    )


VOICE = {  # a [[voice]] table as reconcile writes it (values as TOML), answered with a roster email
    "conversation": '"c"',
    "conversation_id": '"cid"',
    "voice": '"voice-m1"',
    "members": '["m1", "m2"]',
    "names": '["Speaker 1", "Speaker 2"]',
    "segments": "[1, 2]",
    "talk_seconds": "3.5",
    "reason": '"no candidate"',
    "quotes": '[{ segment = 1, start = 0.5, end = 1.5, text = "hi" }]',
    "candidates": "[]",
    "identity": '"a@example.com"',
    "new_name": '""',
    "email": '""',
}
NEW = {"identity": '"new"', "new_name": '"Zed"'}  # a person not on the roster


def voice(**changes: str | None) -> str:
    """One [[voice]] table: VOICE with `changes` (a value None leaves the key out)."""
    fields = VOICE | changes
    return "[[voice]]\n" + "".join(f"{key} = {value}\n" for key, value in fields.items() if value is not None)


MEMBER = (  # a [[member]] table of the older format (one member, `member_id`): still read
    '[[member]]\nconversation = "c"\nconversation_id = "cid"\nmember_id = "m1"\nname = "Speaker 1"\nsegment = 1\n'
    'talk_seconds = 3.5\nquotes = ["hi"]\ncandidates = []\nidentity = "a@example.com"\n'
)
REVIEW_CASES = [
    ("not_toml", '{"voice": []}', "{f}: not valid TOML: Invalid statement (at line 1, column 1)"),
    (
        "nested_1000_deep",
        "x = " + "[" * 1000 + "]" * 1000,
        "{f}: nested too deeply; a review file holds flat [[voice]] tables",
    ),
    (
        "nested_1000_deep_in_a_voice",
        voice(members="[" * 1000 + "]" * 1000),
        "{f}: nested too deeply; a review file holds flat [[voice]] tables",
    ),
    (
        "5000_digit_number",
        voice(segments="[" + "9" * 5000 + "]"),
        "{f}: a number of more than 4300 digits cannot be read; keep the numbers written",
    ),
    ("voice_a_string", 'voice = "m1"\n', "{f}, voice: must be [[voice]] tables, as reconcile wrote them"),
    ("voice_a_list_of_numbers", "voice = [1, 2]\n", "{f}, voice: must be [[voice]] tables, as reconcile wrote them"),
    ("voice_a_table", "[voice]\nidentity = 1\n", "{f}, voice: must be [[voice]] tables, as reconcile wrote them"),
    ("old_member_a_string", 'member = "m1"\n', "{f}, voice: must be [[voice]] tables, as reconcile wrote them"),
    (
        "misspelt_table",
        voice().replace("[[voice]]", "[[voices]]"),
        "{f}, voices: unknown key; a review file holds only [[voice]] tables",
    ),
    ("unknown_key", voice() + "colour = 1\n", f"{{f}}, line 1, voice[0].colour: unknown key; valid keys: {KEYS}"),
    (
        "unknown_key_in_the_second_voice",
        voice(identity='""') + "\n" + voice(colour="1"),
        f"{{f}}, line 16, voice[1].colour: unknown key; valid keys: {KEYS}",
    ),
    (
        "identity_a_number",
        voice(identity="5"),
        "{f}, line 1, voice[0].identity: must be a string in quotes, not int",
    ),
    (
        "conversation_id_a_list",
        voice(conversation_id='["cid"]'),
        "{f}, line 1, voice[0].conversation_id: must be a string in quotes, not list",
    ),
    (
        "old_member_id_a_number",
        MEMBER.replace('member_id = "m1"', "member_id = 7"),
        "{f}, line 1, member[0].member_id: must be a string in quotes, not int",
    ),
    (
        "a_member_answered_twice",
        voice() + voice(identity='"skip"', members='["m2", "m9"]'),
        "{f}, line 15, voice[1].members: member m2 is answered twice (also at line 1); give each voice one answer",
    ),
    (
        "members_a_string",
        voice(members='"m1"'),
        "{f}, line 1, voice[0].members: must be the list of member ids reconcile wrote",
    ),
    (
        "members_a_table",
        voice(members='{ id = "m1" }'),
        "{f}, line 1, voice[0].members: must be the list of member ids reconcile wrote",
    ),
    (
        "members_with_a_number",
        voice(members='["m1", 2]'),
        "{f}, line 1, voice[0].members: must be the list of member ids reconcile wrote",
    ),
    (
        "members_with_an_empty_id",
        voice(members='["m1", ""]'),
        "{f}, line 1, voice[0].members: must be the list of member ids reconcile wrote",
    ),
    (
        "members_empty",
        voice(members="[]"),
        "{f}, line 1, voice[0].members: is empty; keep the member ids reconcile wrote",
    ),
    (
        "no_members",
        voice(members=None),
        "{f}, line 1, voice[0].members: is missing; keep the member ids reconcile wrote",
    ),
    (
        "email_a_number",
        voice(**NEW, email="5"),
        "{f}, line 1, voice[0].email: must be a string in quotes, not int",
    ),
    (
        "email_without_at",
        voice(**NEW, email='"zed.example.com"'),
        "{f}, line 1, voice[0].email: 'zed.example.com' is not an email address; leave it empty if unknown",
    ),
    (
        "new_without_a_name",
        voice(identity='"new"', new_name='"  "'),
        '{f}, line 1, voice[0].new_name: required when identity = "new" (the person\'s name)',
    ),
    (
        "unknown_email",
        voice(identity='"zed@example.com"'),
        '{f}, line 1, voice[0].identity: \'zed@example.com\' is not a roster email, "new" or "skip"',
    ),
    (
        "no_conversation_id",
        voice(conversation_id=None),
        "{f}, line 1, voice[0].conversation_id: required key is missing; keep the value reconcile wrote",
    ),
]


@pytest.mark.parametrize(("name", "text", "message"), REVIEW_CASES, ids=[c[0] for c in REVIEW_CASES])
def test_a_hostile_review_file_gets_exactly_this_message(tmp_path: Path, name: str, text: str, message: str) -> None:
    """`reconcile apply --review FILE`: every malformed file is one ReviewError naming file, line and key."""
    path = tmp_path / "review.toml"
    path.write_text(text)
    with pytest.raises(ReviewError) as caught:
        read_review(path, {"a@example.com"})
    assert str(caught.value) == message.format(f=path)


def test_review_files_that_are_not_text_files_or_carry_a_bom(tmp_path: Path) -> None:
    """A directory, a missing file and non-UTF-8 bytes are named; a byte-order mark is dropped and loads."""
    wanted = "give the review file (review.toml) that reconcile wrote"
    (tmp_path / "bad.toml").write_bytes(b"\xff\xfe[[voice]]")
    cases = {
        tmp_path: f"{tmp_path} is a directory; {wanted}",
        tmp_path / "none.toml": f"{tmp_path}/none.toml: no such file; {wanted}",
        tmp_path / "bad.toml": f"{tmp_path}/bad.toml: cannot read the review file ('utf-8' codec can't decode byte "
        f"0xff in position 0: invalid start byte); {wanted}, in UTF-8",
    }
    for path, message in cases.items():
        with pytest.raises(ReviewError) as caught:
            read_review(path, {"a@example.com"})
        assert str(caught.value) == message
    (tmp_path / "bom.toml").write_text("\ufeff" + voice())
    [answer] = read_review(tmp_path / "bom.toml", {"a@example.com"})
    assert answer == Answer("cid", ("m1", "m2"), "a@example.com")


def test_answers_are_read_as_given_and_old_member_files_still_load(tmp_path: Path) -> None:
    """Identities and emails are trimmed and lower-cased, an open or a "skip" entry is kept as it is, a "new"
    person carries name and email; a [[member]] file of the older format answers for its one member."""
    path = tmp_path / "review.toml"
    path.write_text(
        voice(identity='" A@Example.com "')
        + voice(identity='""', members='["m3"]')
        + voice(identity='"SKIP"', members='["m4"]')
        + voice(identity='"new"', new_name='" Zed Q "', email='" Zed@Example.com "', members='["m5", "m6"]')
    )
    assert read_review(path, {"a@example.com"}) == [
        Answer("cid", ("m1", "m2"), "a@example.com"),
        Answer("cid", ("m4",), "skip"),
        Answer("cid", ("m5", "m6"), "new", "Zed Q", "zed@example.com"),
    ]
    path.write_text(MEMBER)
    assert read_review(path, {"a@example.com"}) == [Answer("cid", ("m1",), "a@example.com")]


def test_a_review_file_reconcile_renders_reads_back_whatever_the_names(tmp_path: Path) -> None:
    """Names, quotes and ids with quotes, backslashes, newlines, TOML syntax and non-ASCII are written so that the
    file is valid TOML; unanswered it answers nothing, and answered it names every member of its voice."""
    hostile = 'A "quoted" \\ name\n[[voice]]\nidentity = "skip" # é 🎙'
    members = tuple(
        Member("cid", member_id, hostile, None, segment, 2.5, (hostile,), (Quote(hostile, 0.5, 1.5),))
        for segment, member_id in enumerate(["m1", 'm"2'])
    )
    item = ReviewItem("cid", "voice-m1", members, hostile, (Candidate("a@example.com", 0.4, (hostile,)),))
    path = tmp_path / "review.toml"
    path.write_text(render(hostile, [item], [hostile]))
    assert read_review(path, {"a@example.com"}) == []
    path.write_text(path.read_text().replace('identity = ""', 'identity = "a@example.com"'))
    assert read_review(path, {"a@example.com"}) == [Answer("cid", ("m1", 'm"2'), "a@example.com")]


def one_sentence(line: str) -> str:
    """The message of a command's one stderr line: text (`symbl-batch: ...`) or a JSON log record's detail."""
    if line.startswith("{"):
        record = json.loads(line)
        assert record["exit_code"] == 2
        return str(record["detail"])
    assert line.startswith("symbl-batch: ")
    return line.removeprefix("symbl-batch: ")


async def test_the_command_line_prints_one_line_and_exits_2(folder: Path) -> None:
    """`symbl-batch run`, `status` and `reconcile apply` on hostile input: exit 2 and one stderr line each (no
    traceback); a dry run of a manifest whose output is unusable still works (it writes nothing)."""
    (folder / "big.toml").write_text("[api]\nconcurrency = " + "9" * 5000 + "\n" + SEG)
    (folder / "deep.jsonl").write_text(
        '{"conversation": "c", "file": "a.wav", "entities": ' + "[" * 1000 + "]" * 1000 + "}\n"
    )
    (folder / "people.toml").write_text('[[people]]\nname = "A"\nemail = "a@example.com"\n' + SEG)
    (folder / "review.toml").write_text("voice = [1]\n")
    state = folder / "state.sqlite"
    with Store(state) as store:
        store.insert("c/1", "c", 0, "fp")
        store.db.execute("UPDATE segments SET status='bogus'")
    path_refused = manifest(folder, 'output = "afile"')
    runs = {
        ("run", str(folder / "big.toml")): f"{folder}/big.toml, line 2: a number of more than 4300 digits cannot be "
        "read; give a number within the setting's range",
        ("run", str(folder / "deep.jsonl")): f"{folder}/deep.jsonl, line 1: nested more than 32 levels deep; a "
        "manifest needs only a few levels",
        ("run", str(path_refused)): f"{folder}/afile: the output directory (api.output or --output) is a file, not a "
        "directory; give a directory path, new or existing",
        ("status", str(state)): f"{state}: row 'c/1', column status: 'bogus' is not a known status",
        ("reconcile", "apply", str(folder / "people.toml"), "--review", str(folder / "review.toml")): f"{folder}/"
        "review.toml, voice: must be [[voice]] tables, as reconcile wrote them",
        ("reconcile", "plan", str(folder / "big.toml")): f"{folder}/big.toml, line 2: a number of more than 4300",
    }
    results = await asyncio.gather(
        *(cli(*argv, seconds=60) for argv in runs), cli("run", str(path_refused), "--dry-run")
    )
    for (argv, expected), (code, _, err) in zip(runs.items(), results, strict=False):
        assert (code, err.count("\n")) == (2, 1), (argv, err)
        assert one_sentence(err).startswith(expected), (argv, err)
    code, out, err = results[-1]
    assert code == 0 and "nothing is sent" in out, err


@pytest.mark.parametrize("value", ["{broken", "[1]", '{"speed": "fast"}', '{"speed": 1e400}'])
def test_a_run_reads_a_hand_edited_progress_record_as_no_measurement(tmp_path: Path, value: str) -> None:
    """A run only takes the measured speed from the progress record; a broken one is no measurement (the run
    rewrites it), never a traceback."""
    with Store(tmp_path / "state.sqlite") as store:
        store.db.execute("INSERT INTO meta VALUES ('progress', ?)", (value,))
        assert store.measured_speed() is None
