"""budgetlaw.fileio, the one home of both packages' file plumbing: atomic files and folders, checked JSON."""

import json
import os

import pytest

from budgetlaw import fileio
from budgetlaw.fileio import read_json, staged_folder, write_text_atomic
from budgetlaw.errors import InputError


def test_fileio_is_the_one_home_of_the_plumbing():
    # tuning imports these from budgetlaw.fileio; the second stack (tuning.data.files) is gone
    import importlib.util

    for name in ("run_command", "check_output", "file_mode", "dir_mode", "sigterm_as_interrupt", "one_line",
                 "atomic_paths", "atomic_write", "write_json", "chmod_tree", "read_yaml", "did_you_mean"):
        assert callable(getattr(fileio, name)), name
    for gone in ("budgetlaw._io", "tuning.data.files"):
        assert importlib.util.find_spec(gone) is None, gone


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


def test_read_yaml_is_strict(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "s.yaml"
    path.write_text("language: no\npacking: true\nwhen: on\n", encoding="utf-8")
    assert fileio.read_yaml(path) == {"language": "no", "packing": True, "when": "on"}  # YAML 1.1 words stay words
    path.write_text("a: 1\nb: 2\na: 3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"key 'a' appears twice \(first on line 1\).* at line 3"):
        fileio.read_yaml(path)
    with pytest.raises(InputError, match="study file not found"):
        fileio.read_yaml(tmp_path / "missing.yaml", what="study file")
    assert fileio.yaml_value("null", where="override") is None and fileio.yaml_value(" ", where="override") == ""


def test_did_you_mean_names_the_close_key_or_lists_them():
    assert fileio.did_you_mean("bugdet", ["budget", "languages"]) == "; did you mean 'budget'?"
    assert fileio.did_you_mean("zzz", ["budget", "languages"], listing="valid keys") == "; valid keys: budget, languages"


def test_a_reader_can_raise_its_own_error_type(tmp_path):
    class TuningError(InputError):
        pass

    path = tmp_path / "x.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(TuningError, match="^custom$"):
        read_json(path, message=lambda exc: "custom", error=TuningError)
