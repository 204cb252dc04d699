"""download_example_data.sh: https only, the zip's entries checked before extraction, every file
verified against the checksum lists before it is installed, distinct failure messages and exit
codes, paths passed to Python as arguments. Each test builds its own zip (served as a file:// URL)
and its own checksum lists (DEPTHNERF_CHECKSUMS_DIR), so nothing here needs the network or the
shared data."""
import hashlib
import json
import os
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "download_example_data.sh"

FILES = {  # what the test archive holds, and the checksum lists know
    "nerf_synthetic/lego/transforms_train.json": b'{"camera_angle_x": 0.69, "frames": []}\n',
    "nerf_synthetic/lego/train/r_0.png": bytes(range(256)) * 40,
    "nerf_llff_data/fern/poses_bounds.npy": b"\x93NUMPY" + b"\x01" * 300,
    "nerf_llff_data/fern/images_8/image000.png": b"\x89PNG" + b"\x07" * 500,
}
EXTRA = "nerf_llff_data/fern/images/IMG_4026.JPG"  # in the archive, in no list


def _write_lists(folder: Path, files=FILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, prefix in (("nerf_synthetic_sha256_size.txt", "nerf_synthetic/"),
                         ("nerf_llff_sha256_size.txt", "nerf_llff_data/")):
        lines = ["# test list: comment lines are ignored"]
        lines += [f"{hashlib.sha256(data).hexdigest()}  {rel}  {len(data)}"
                  for rel, data in files.items() if rel.startswith(prefix)]
        (folder / name).write_text("\n".join(lines) + "\n")
    return folder


def _make_zip(path: Path, entries) -> Path:
    """entries: {name: bytes} or (name, bytes, unix mode) tuples; written as given (no sanitising)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for item in items:
            name, data, mode = item if len(item) == 3 else (*item, stat.S_IFREG | 0o644)
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # Unix: the mode bits below are meaningful to unzip
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return path


def _run(data_dir: Path, url: str, checksums: Path, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("NERF_DATA_MIRROR", "DEPTHNERF_OFFLINE")}
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120,
                          env={**base, "DATA_DIR": str(data_dir), "NERF_EXAMPLE_URL": url,
                               "DEPTHNERF_CHECKSUMS_DIR": str(checksums), **env})
    proc.log = proc.stdout + proc.stderr  # for assertion messages
    return proc


def _installed(data_dir: Path) -> set:
    """Every path (file, folder or link) under data_dir, relative: staging leftovers included."""
    if not data_dir.exists():
        return set()
    return {p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*")}


def _files(data_dir: Path) -> set:
    return {p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*") if p.is_file()} \
        if data_dir.exists() else set()


@pytest.fixture
def sums(tmp_path):
    return _write_lists(tmp_path / "checksums")


# ------------------------------------------------------------------------------------ good zip

def test_good_zip_installs_verified_files_only(tmp_path, sums):
    url = _make_zip(tmp_path / "src" / "nerf_example_data.zip", {**FILES, EXTRA: b"full-res"}).as_uri()
    data = tmp_path / "data"
    proc = _run(data, url, sums)
    assert proc.returncode == 0, proc.log
    assert "archive checksum unknown for nerf_example_data.zip; verifying every file instead" in proc.stdout
    assert f"1 file(s) have no checksum: not verified, not installed: {EXTRA}" in proc.stdout
    assert "nerf_synthetic/lego: verified 2 files, 0 listed files not present" in proc.stdout
    assert "nerf_llff_data/fern: verified 2 files, 0 listed files not present" in proc.stdout
    assert _files(data) == set(FILES)  # the unlisted file is not there, nor any staging folder
    assert not any(p.startswith(".") for p in _installed(data))
    for rel, content in FILES.items():
        assert (data / rel).read_bytes() == content

    again = _run(data, url, sums)  # lego and fern present: no download, everything re-verified
    assert again.returncode == 0, again.log
    assert "not downloading again" in again.stdout and "nerf_synthetic/lego: verified 2 files" in again.stdout


def test_archive_checksum_is_used_when_listed(tmp_path, sums):
    zip_path = _make_zip(tmp_path / "src" / "example.zip", FILES)
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    (sums / "archives_sha256.txt").write_text(f"# archive list\n{digest}  example.zip\n")
    proc = _run(tmp_path / "data", zip_path.as_uri(), sums)
    assert proc.returncode == 0, proc.log
    assert "archive example.zip: sha256 verified" in proc.stdout

    (sums / "archives_sha256.txt").write_text(f"{'0' * 64}  example.zip\n")
    bad = _run(tmp_path / "data2", zip_path.as_uri(), sums)
    assert bad.returncode == 1, bad.log
    assert "CHECKSUM MISMATCH: archive example.zip" in bad.stdout and "nothing extracted" in bad.stdout
    assert _files(tmp_path / "data2") == set()


# ------------------------------------------------------------------------------------ refused entries

def test_symlink_entry_is_refused_before_extraction(tmp_path, sums):
    link = ("nerf_synthetic/lego/evil_link", b"/etc/passwd", stat.S_IFLNK | 0o777)
    url = _make_zip(tmp_path / "src" / "example.zip", [*FILES.items(), link]).as_uri()
    proc = _run(tmp_path / "data", url, sums)
    assert proc.returncode == 5, proc.log
    assert "refused before extraction" in proc.stdout
    assert "'nerf_synthetic/lego/evil_link' (symlink entry)" in proc.stdout
    assert "nothing extracted" in proc.stdout
    assert _installed(tmp_path / "data") == set()  # not even the good files, nor the staging folder


@pytest.mark.parametrize("name, reason", [
    ("../evil", "`..` component"),
    ("nerf_synthetic/../../evil", "`..` component"),
    ("/abs", "absolute path"),
    ("/tmp/abs_evil", "absolute path"),
    ("somewhere_else/file.txt", "outside the expected folders"),
])
def test_unsafe_paths_are_refused(tmp_path, sums, name, reason):
    url = _make_zip(tmp_path / "src" / "example.zip", {**FILES, name: b"evil"}).as_uri()
    proc = _run(tmp_path / "work" / "data", url, sums)
    assert proc.returncode == 5, proc.log
    assert f"{name!r} ({reason}" in proc.stdout and "refused before extraction" in proc.stdout
    assert _installed(tmp_path / "work") == {"data"}  # nothing extracted anywhere under work/
    assert not Path("/tmp/abs_evil").exists()


# ------------------------------------------------------------------------------------ verification

def test_checksum_mismatch_installs_nothing(tmp_path, sums):
    victim = "nerf_synthetic/lego/train/r_0.png"
    tampered = {**FILES, victim: FILES[victim][:-4] + b"XXXX"}  # same size, other content
    url = _make_zip(tmp_path / "src" / "example.zip", tampered).as_uri()
    proc = _run(tmp_path / "data", url, sums)
    assert proc.returncode == 1, proc.log
    assert f"CHECKSUM MISMATCH: {victim} in the archive example.zip (sha256 " in proc.stdout
    assert "1 file(s) in the archive example.zip failed verification" in proc.stdout
    assert "nothing installed" in proc.stdout
    assert _installed(tmp_path / "data") == set()  # the three good files were not moved in either


def test_size_mismatch_is_named(tmp_path, sums):
    victim = "nerf_llff_data/fern/poses_bounds.npy"
    url = _make_zip(tmp_path / "src" / "example.zip", {**FILES, victim: b"short"}).as_uri()
    proc = _run(tmp_path / "data", url, sums)
    assert proc.returncode == 1, proc.log
    assert f"CHECKSUM MISMATCH: {victim} in the archive example.zip (size 5, expected 306)" in proc.stdout
    assert _installed(tmp_path / "data") == set()


# ------------------------------------------------------------------------------------ download failures

def test_truncated_zip_is_reported_as_incomplete(tmp_path, sums):
    zip_path = _make_zip(tmp_path / "src" / "example.zip", FILES)
    zip_path.write_bytes(zip_path.read_bytes()[: zip_path.stat().st_size // 2])
    proc = _run(tmp_path / "data", zip_path.as_uri(), sums)
    assert proc.returncode == 4, proc.log
    assert "archive example.zip is incomplete or corrupt" in proc.stdout and "partial download?" in proc.stdout
    assert _installed(tmp_path / "data") == set()


def test_corrupt_entry_data_is_reported_as_corrupt(tmp_path, sums):
    zip_path = tmp_path / "src" / "example.zip"
    zip_path.parent.mkdir(parents=True)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as z:
        for rel, content in FILES.items():
            z.writestr(rel, content)
    raw = bytearray(zip_path.read_bytes())
    at = raw.index(FILES["nerf_synthetic/lego/train/r_0.png"][:64])
    raw[at + 10] ^= 0xFF  # one flipped byte inside a stored entry: the central directory is intact
    zip_path.write_bytes(bytes(raw))
    proc = _run(tmp_path / "data", zip_path.as_uri(), sums)
    assert proc.returncode == 4, proc.log
    assert "is incomplete or corrupt" in proc.stdout
    assert _installed(tmp_path / "data") == set()


def test_missing_file_url_is_a_failed_download_not_offline(tmp_path, sums):
    proc = _run(tmp_path / "data", "file:///nonexistent.zip", sums)
    assert proc.returncode == 3, proc.log
    assert "download failed: cannot read file:///nonexistent.zip" in proc.stdout
    assert "offline" not in proc.stdout and "embedded" not in proc.stdout
    assert _files(tmp_path / "data") == set()


def test_plain_http_is_refused(tmp_path, sums):
    proc = _run(tmp_path / "data", "http://127.0.0.1:9/nerf_example_data.zip", sums)
    assert proc.returncode == 2, proc.log
    assert "plain http is not accepted, https is required" in proc.stdout
    assert "downloading" not in proc.stdout and _files(tmp_path / "data") == set()


def test_other_schemes_are_refused(tmp_path, sums):
    proc = _run(tmp_path / "data", "ftp://127.0.0.1/nerf_example_data.zip", sums)
    assert proc.returncode == 2 and "https is required" in proc.stdout, proc.log


def test_missing_checksum_list_is_an_error(tmp_path, sums):
    (sums / "nerf_llff_sha256_size.txt").unlink()
    proc = _run(tmp_path / "data", "file:///nonexistent.zip", sums)
    assert proc.returncode == 2 and "nerf_llff_sha256_size.txt is missing" in proc.stdout, proc.log


# ------------------------------------------------------------------------------------ awkward paths

WEIRD = "it's a \"dir\" $(echo no) with spaces"


def test_paths_with_quotes_and_spaces_are_arguments_not_source(tmp_path, sums):
    weird = tmp_path / WEIRD
    url = _make_zip(weird / "src it's" / "example.zip", FILES).as_uri()
    data = weird / "data 'x'"
    proc = _run(data, url, sums)
    assert proc.returncode == 0, proc.log
    assert _files(data) == set(FILES)


def _fake_current_embedded(data: Path):
    """A data/embedded that ensure_embedded_scene takes as current (so nothing is generated)."""
    from depthnerf.embedded import EMBEDDED_VERSION
    (data / "embedded").mkdir(parents=True)
    (data / "embedded" / "transforms_test.json").write_text(
        json.dumps({"generator": f"depthnerf.data.write_embedded_scene v{EMBEDDED_VERSION}"}))


def test_no_network_falls_back_to_the_embedded_scene(tmp_path, sums):
    data = tmp_path / WEIRD / "data"
    _fake_current_embedded(data)
    proc = _run(data, "https://127.0.0.1:9/nerf_example_data.zip", sums)  # connection refused
    assert proc.returncode == 0, proc.log
    assert "offline: cannot resolve or reach the host" in proc.stdout
    assert "no network and no NERF_DATA_MIRROR: generating the embedded scene instead" in proc.stdout
    assert f"embedded scene in {data / 'embedded'}" in proc.stdout
    assert _installed(data) == {"embedded", "embedded/transforms_test.json"}  # no staging left


@pytest.mark.slow
def test_offline_switch_generates_the_embedded_scene_in_an_awkward_folder(tmp_path, sums):
    data = tmp_path / WEIRD / "data"
    proc = _run(data, "file:///nonexistent.zip", sums, DEPTHNERF_OFFLINE="1")
    assert proc.returncode == 0, proc.log
    assert "DEPTHNERF_OFFLINE=1: not downloading; generating the embedded scene instead" in proc.stdout
    assert len(json.loads((data / "embedded" / "transforms_train.json").read_text())["frames"]) > 0


# ------------------------------------------------------------------------------------ mirror mode

def _mirror(tmp_path: Path, files=FILES) -> Path:
    mirror = tmp_path / "mirror"
    for rel, content in files.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(content)
    return mirror


def test_mirror_verifies_llff_and_copies(tmp_path, sums):
    mirror = _mirror(tmp_path, {**FILES, "dsnerf_poster_less/poses_bounds.npy": b"custom"})
    proc = _run(tmp_path / "data", "file:///unused.zip", sums, NERF_DATA_MIRROR=str(mirror))
    assert proc.returncode == 0, proc.log
    assert "nerf_llff_data/fern: verified 2 files, 0 listed files not present" in proc.stdout
    assert "1 file(s) have no checksum: copied, not verified: dsnerf_poster_less/poses_bounds.npy" in proc.stdout
    assert _files(tmp_path / "data") == set(FILES) | {"dsnerf_poster_less/poses_bounds.npy"}


def test_mirror_llff_mismatch_copies_nothing(tmp_path, sums):
    victim = "nerf_llff_data/fern/images_8/image000.png"
    mirror = _mirror(tmp_path, {**FILES, victim: FILES[victim][:-1] + b"!"})
    proc = _run(tmp_path / "data", "file:///unused.zip", sums, NERF_DATA_MIRROR=str(mirror))
    assert proc.returncode == 1, proc.log
    assert f"CHECKSUM MISMATCH: {victim} in the mirror" in proc.stdout and "nothing installed" in proc.stdout
    assert _files(tmp_path / "data") == set()


@pytest.mark.parametrize("where", ["nerf_synthetic/lego/secret", "nerf_llff_data/fern/images", "dsnerf_poster_less"])
def test_mirror_symlinks_are_refused_not_followed(tmp_path, sums, where):
    mirror = _mirror(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("secret")
    (mirror / where).parent.mkdir(parents=True, exist_ok=True)
    (mirror / where).symlink_to(outside if where != "nerf_synthetic/lego/secret" else outside / "passwd")
    proc = _run(tmp_path / "data", "file:///unused.zip", sums, NERF_DATA_MIRROR=str(mirror))
    assert proc.returncode == 5, proc.log
    assert f"1 symlink(s) or special file(s), refused (not followed): {where}" in proc.stdout
    assert "nothing copied" in proc.stdout and _files(tmp_path / "data") == set()
