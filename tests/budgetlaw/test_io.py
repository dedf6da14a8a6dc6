"""budgetlaw._io (re-exported by budgetlaw.fileio): atomic files and folders, checked JSON."""

import json
import os

import pytest

from budgetlaw import fileio
from budgetlaw._io import read_json, staged_folder, write_text_atomic
from budgetlaw.errors import InputError


def test_fileio_reexports_the_one_implementation():
    # tuning imports these from budgetlaw.fileio: they must be the very same functions
    assert fileio.write_text_atomic is write_text_atomic
    assert fileio.read_json is read_json and fileio.staged_folder is staged_folder
    for name in ("run_command", "check_output", "file_mode", "dir_mode", "sigterm_as_interrupt", "one_line"):
        assert callable(getattr(fileio, name))


def test_write_text_atomic_writes_the_bytes_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text("old", encoding="utf-8")
    assert write_text_atomic(path, "né\n") == path
    assert path.read_bytes() == "né\n".encode("utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


def test_write_text_atomic_uses_a_unique_temporary_name(tmp_path, monkeypatch):
    # two writers of one path must not share a temporary file: record the names used
    seen = []
    real = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_text_atomic(tmp_path / "laws.json", "a")
    write_text_atomic(tmp_path / "laws.json", "b")
    assert len(set(seen)) == 2
    assert all(name.startswith(".laws.json.") and name.endswith(".tmp") and name != ".laws.json.tmp" for name in seen)


def test_write_text_atomic_failure_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "laws.json"
    path.write_text("old", encoding="utf-8")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_text_atomic(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["laws.json"]


def test_staged_folder_moves_files_in_only_on_success(tmp_path):
    out = tmp_path / "report"
    with staged_folder(out) as tmp:
        assert tmp.parent == tmp_path and tmp != out
        (tmp / "a.txt").write_text("1")
        assert not out.exists()  # nothing visible before the block ends
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
    (out / "keep.txt").write_text("k")
    with pytest.raises(RuntimeError):
        with staged_folder(out) as tmp:
            (tmp / "a.txt").write_text("2")
            raise RuntimeError("stop")
    assert (out / "a.txt").read_text() == "1" and (out / "keep.txt").read_text() == "k"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no temporary folder left


def test_staged_folder_refuses_a_file_where_the_folder_goes(tmp_path):
    out = tmp_path / "report"
    out.write_text("a file")
    with pytest.raises(InputError, match="not a folder"):
        with staged_folder(out) as tmp:
            (tmp / "a.txt").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


@pytest.mark.parametrize(
    "content, needle",
    [(None, "no such file (the laws file was not found)"), (b"{not json", "not valid JSON (Expecting"),
     (b"\xff\xfe", "not valid JSON (bytes that are not UTF-8)"), (b"[" * 100_000, "not valid JSON")],
)
def test_read_json_errors_name_the_file_and_the_fix(tmp_path, content, needle):
    path = tmp_path / "laws.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_json(path, what="laws file", fix="run budgetlaw fit")
    message = str(err.value)
    assert message.startswith(f"{path}: ") and needle in message and message.endswith("; run budgetlaw fit")


def test_read_json_reads(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"a": [1, 2.5, None]}), encoding="utf-8")
    assert read_json(path) == {"a": [1, 2.5, None]}
