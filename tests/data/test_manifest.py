"""The writers' manifest: write only into an empty folder or our own, remove only our files."""
from __future__ import annotations

import pytest

from paa_edu.data.manifest import (
    MANIFEST_NAME,
    ForeignFolderError,
    ManifestWriter,
    claim_folder,
    read_manifest,
    remove_written,
)


def _tree(folder) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes): the oracle of "untouched"."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_missing_and_empty_folders_are_free(tmp_path):
    assert claim_folder(tmp_path / "missing", "split") is None
    (tmp_path / "empty" / "images").mkdir(parents=True)  # empty sub-folders hold nothing
    assert claim_folder(tmp_path / "empty", "split") is None


def test_a_folder_with_foreign_files_is_refused_and_named(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "P0001.png").write_bytes(b"user data")
    with pytest.raises(ForeignFolderError, match="paa_edu did not write .e.g. .*P0001.png"):
        claim_folder(tmp_path, "synthetic")
    (tmp_path / "f").write_text("x")
    with pytest.raises(ForeignFolderError, match="is a file"):
        claim_folder(tmp_path / "f", "split")


def test_a_folder_of_another_writer_is_refused(tmp_path):
    with ManifestWriter(tmp_path, "split", {}) as manifest:
        manifest.add(tmp_path / "a.txt").write_text("a")
    assert claim_folder(tmp_path, "split").files == ["a.txt"]
    with pytest.raises(ForeignFolderError, match="'split' writer, not 'synthetic'"):
        claim_folder(tmp_path, "synthetic")


def test_remove_written_deletes_exactly_the_listed_files(tmp_path):
    with ManifestWriter(tmp_path, "split", {"patch_size": 64}) as manifest:
        for name in ("images/a.png", "images/b.png", "labelTxt/a.txt", "gone/never.png"):
            if name != "gone/never.png":  # recorded but never written (a crash)
                manifest.add(tmp_path / name).parent.mkdir(exist_ok=True)
                (tmp_path / name).write_text(name)
            else:
                manifest.add(tmp_path / name)
    (tmp_path / "images" / "c.png").write_text("the user's")  # looks like ours, is not listed
    (tmp_path / "notes.txt").write_text("the user's")
    manifest = read_manifest(tmp_path)
    assert manifest.complete and manifest.info == {"patch_size": 64} and len(manifest.files) == 4
    assert remove_written(tmp_path, manifest) == 3
    assert _tree(tmp_path) == {"images/c.png": b"the user's", "notes.txt": b"the user's"}
    assert not (tmp_path / "labelTxt").exists()  # left empty by the removal
    assert not (tmp_path / MANIFEST_NAME).exists()


def test_an_interrupted_writer_leaves_an_incomplete_manifest_listing_its_files(tmp_path):
    with pytest.raises(RuntimeError):
        with ManifestWriter(tmp_path, "synthetic", {}) as manifest:
            manifest.add(tmp_path / "a.png").write_text("a")
            manifest.add(tmp_path / "b.png")
            raise RuntimeError("killed")
    manifest = read_manifest(tmp_path)
    assert not manifest.complete and manifest.files == ["a.png", "b.png"]


def test_a_manifest_cannot_remove_files_outside_its_folder(tmp_path):
    (tmp_path / "outside.txt").write_text("keep")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / MANIFEST_NAME).write_text('{"writer": "split"}\n"../outside.txt"\n')
    with pytest.raises(ValueError, match="outside the folder"):
        remove_written(tmp_path / "d", read_manifest(tmp_path / "d"))
    assert (tmp_path / "outside.txt").read_text() == "keep"
