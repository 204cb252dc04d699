#!/usr/bin/env bash
# Get example data into data/ (or $DATA_DIR), in this order of preference:
#   1. NERF_DATA_MIRROR=<dir>  copy nerf_synthetic/, nerf_llff_data/ and dsnerf_poster_less/ from a
#                              local folder (no network). Symlinks and special files anywhere in
#                              those folders are refused (not followed). Every file with a checksum
#                              is verified BEFORE anything is copied; files without one (custom
#                              scenes, dsnerf_poster_less/, LLFF full-resolution images/) are
#                              copied and reported as not verified.
#   2. download                the official NeRF example data (lego + fern) from $NERF_EXAMPLE_URL
#                              (https only; a file:// URL is accepted for local copies and tests;
#                              plain http:// is refused). Before extraction the zip's entry list is
#                              checked: symlink or special-file entries, absolute paths, `..`
#                              components and entries outside nerf_synthetic/ and nerf_llff_data/
#                              are refused. It is extracted into a staging folder inside $DATA_DIR,
#                              every extracted file is checked against the checksum lists, and only
#                              verified files are moved into place: a mismatch installs nothing;
#                              files without a checksum are not installed (listed in one message).
#                              If $DEPTHNERF_CHECKSUMS_DIR/archives_sha256.txt (`sha256  filename`)
#                              lists the zip's file name, the zip itself is checked first.
#   3. offline                 when the download finds no network at all (host cannot be resolved
#                              or reached), or DEPTHNERF_OFFLINE=1: generate the embedded scene
#                              (data/embedded), which needs nothing. Any other download failure is
#                              an error, not a fallback.
# Checksum lists ($DEPTHNERF_CHECKSUMS_DIR, default data_checksums/; lines `sha256  path  size`,
# `#` lines ignored): nerf_synthetic_sha256_size.txt (every file of the 8 official scenes) and
# nerf_llff_sha256_size.txt (the fern files we could checksum). Running it again re-verifies and
# skips what is already there (existing files are never overwritten).
# Exit status: 0 done; 1 checksum mismatch (the file is named); 2 bad settings (e.g. an http://
# URL); 3 download failed (HTTP error or other transfer error); 4 partial download or incomplete /
# corrupt archive; 5 unsafe content refused (symlink, absolute or `..` entry); 6 local I/O error.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-$ROOT/data}"
CHECKSUMS_DIR="${DEPTHNERF_CHECKSUMS_DIR:-$ROOT/data_checksums}"
SYNTHETIC_LIST="$CHECKSUMS_DIR/nerf_synthetic_sha256_size.txt"
LLFF_LIST="$CHECKSUMS_DIR/nerf_llff_sha256_size.txt"
ARCHIVE_LIST="$CHECKSUMS_DIR/archives_sha256.txt"
NERF_EXAMPLE_URL="${NERF_EXAMPLE_URL:-https://cseweb.ucsd.edu/~viscomp/projects/LF/papers/ECCV20/nerf/nerf_example_data.zip}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
STAGING=""
OFFLINE=0

say() { echo "[download_example_data] $*"; }
die() { local status="$1"; shift; say "ERROR: $*"; exit "$status"; }

cleanup() {
    if [ -n "$STAGING" ]; then rm -rf -- "$STAGING"; fi
}
trap cleanup EXIT

# All file work (zip checks, extraction, hashing, installing) in one Python helper. Its code is a
# constant here-document; every path reaches it as a command-line argument.
pyhelper() {
    "$PYTHON" - "$@" <<'PY'
import argparse, hashlib, os, shutil, stat, sys, zipfile
from pathlib import PurePosixPath

TOPS = ("nerf_synthetic", "nerf_llff_data")                 # what the official zip may contain
MIRROR_TOPS = ("nerf_synthetic", "nerf_llff_data", "dsnerf_poster_less")
SHOW = 5                                                    # names shown in a summary message


def say(*a):
    print("[download_example_data]", *a, flush=True)


def fail(status, msg):
    say("ERROR:", msg)
    sys.exit(status)


def few(names):
    names = sorted(names)
    return ", ".join(names[:SHOW]) + (f", ... ({len(names) - SHOW} more)" if len(names) > SHOW else "")


def read_lists(paths):
    """{relative path: (sha256, size)} from `sha256  path  size` lines; `#` and blank lines ignored."""
    known = {}
    for list_path in paths:
        with open(list_path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                try:
                    sha, rest = line.split(None, 1)
                    rel, size = rest.rsplit(None, 1)
                    known[rel.strip()] = (sha.lower(), int(size))
                except ValueError:
                    fail(2, f"{list_path}:{n}: not a `sha256  path  size` line")
    return known


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check(path, expected):
    """None if ``path`` matches (sha256, size), else a description of the difference."""
    sha, size = expected
    actual = os.path.getsize(path)
    if actual != size:
        return f"size {actual}, expected {size}"
    digest = sha256(path)
    return None if digest == sha else f"sha256 {digest}, expected {sha}"


# ------------------------------------------------------------------ zip: check, then extract
def entry_problem(info):
    """Why a zip entry is refused, or None. Only names and types are looked at (no extraction)."""
    name = info.filename
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "symlink entry"
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "special-file entry"
    if "\x00" in name or "\\" in name:
        return "NUL or backslash in the name"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "absolute path"
    parts = name.rstrip("/").split("/") if info.is_dir() else name.split("/")
    if ".." in parts:
        return "`..` component"
    if any(p in ("", ".") for p in parts):
        return "empty or `.` component"
    if parts[0] not in TOPS or (not info.is_dir() and len(parts) < 2):
        return f"outside the expected folders {'/, '.join(TOPS)}/"
    if info.flag_bits & 0x1:
        return "encrypted entry"
    return None


def cmd_zip(a):
    try:
        known = {}                                     # optional `sha256  filename` lines
        if os.path.isfile(a.archive_list):
            with open(a.archive_list, encoding="utf-8") as f:
                for line in f:
                    fields = line.split()
                    if len(fields) == 2 and not fields[0].startswith("#"):
                        known[fields[1]] = fields[0].lower()
        if a.name in known:
            digest = sha256(a.zip)
            if digest != known[a.name]:
                fail(1, f"CHECKSUM MISMATCH: archive {a.name}: sha256 {digest}, expected {known[a.name]}"
                        " (listed in archives_sha256.txt); nothing extracted")
            say(f"archive {a.name}: sha256 verified")
        else:
            say(f"archive checksum unknown for {a.name}; verifying every file instead")
        try:
            z = zipfile.ZipFile(a.zip)
        except (zipfile.BadZipFile, EOFError) as e:
            fail(4, f"archive {a.name} is incomplete or corrupt ({e}): partial download? nothing extracted")
        with z:
            infos = z.infolist()
            refused = [f"{i.filename!r} ({p})" for i in infos if (p := entry_problem(i))]
            seen, dupes = set(), set()
            for i in infos:
                key = i.filename.rstrip("/")
                (dupes if key in seen else seen).add(key)
            refused += [f"{d!r} (duplicate entry)" for d in sorted(dupes)]
            if refused:
                fail(5, f"archive {a.name} refused before extraction, {len(refused)} unsafe entr"
                        f"{'y' if len(refused) == 1 else 'ies'}: {few(refused)}; nothing extracted")
            if not any(not i.is_dir() for i in infos):
                fail(4, f"archive {a.name} holds no files")
            for i in infos:                            # names are checked: plain relative paths
                target = os.path.join(a.staging, *i.filename.rstrip("/").split("/"))
                if i.is_dir():
                    os.makedirs(target, exist_ok=True)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with z.open(i) as src, open(target, "xb") as dst:   # CRC checked at the end
                    shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as e:
        fail(4, f"archive {a.name} is incomplete or corrupt ({e}): partial download? nothing installed")
    say(f"archive {a.name}: {sum(not i.is_dir() for i in infos)} files extracted into staging")


# ------------------------------------------------------------------ verify and install a tree
def walk_files(root, tops):
    """Relative paths of the regular files under root/<top>; symlinks and special files refused."""
    files, bad = [], []
    for top in tops:
        start = os.path.join(root, top)
        if not os.path.lexists(start):
            continue
        if not stat.S_ISDIR(os.lstat(start).st_mode):
            bad.append(top)
            continue
        for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                mode = os.lstat(path).st_mode
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                if stat.S_ISREG(mode):
                    files.append(rel)
                elif not stat.S_ISDIR(mode):          # a symlink (to a folder too) or a device
                    bad.append(rel)
    return sorted(files), bad


def verify_data_dir(data_dir, known, already_verified=()):
    """Per scene of data_dir/nerf_synthetic and nerf_llff_data: verify the listed files present."""
    scenes = {}
    for rel in known:
        top, scene = rel.split("/")[:2]
        scenes.setdefault((top, scene), []).append(rel)
    bad = 0
    for top in TOPS:
        folder = os.path.join(data_dir, top)
        if not os.path.isdir(folder):
            continue
        for scene in sorted(os.listdir(folder)):
            if not os.path.isdir(os.path.join(folder, scene)):
                continue
            listed = scenes.get((top, scene), [])
            if not listed:
                say(f"{top}/{scene}: not an official scene (no checksums), not verified")
                continue
            checked = absent = 0
            for rel in sorted(listed):
                path = os.path.join(data_dir, *rel.split("/"))
                if not os.path.isfile(path):
                    absent += 1
                    continue
                checked += 1
                if rel in already_verified:
                    continue
                problem = check(path, known[rel])
                if problem:
                    say(f"CHECKSUM MISMATCH: {path} ({problem}); delete it and run again")
                    bad += 1
            unlisted = 0
            for dirpath, _, filenames in os.walk(os.path.join(folder, scene)):
                for name in filenames:
                    rel = os.path.relpath(os.path.join(dirpath, name), data_dir).replace(os.sep, "/")
                    unlisted += rel not in known
            extra = f", {unlisted} files without checksums (not verified)" if unlisted else ""
            say(f"{top}/{scene}: verified {checked} files, {absent} listed files not present{extra}")
    if bad:
        fail(1, f"{bad} file(s) failed verification")


def cmd_install(a):
    known = read_lists(a.lists)
    tops = MIRROR_TOPS if a.unlisted == "copy" else TOPS
    files, refused = walk_files(a.src, tops)
    if refused:
        fail(5, f"{a.what} holds {len(refused)} symlink(s) or special file(s), refused (not followed): "
                f"{few(refused)}; nothing copied")
    if not files:
        fail(2, f"{a.what} holds no files under {'/, '.join(tops)}/")
    mismatched, verified, unlisted = [], [], []
    for rel in files:
        if rel not in known:
            unlisted.append(rel)
            continue
        problem = check(os.path.join(a.src, *rel.split("/")), known[rel])
        (mismatched if problem else verified).append(rel)
        if problem:
            say(f"CHECKSUM MISMATCH: {rel} in {a.what} ({problem})")
    if mismatched:
        fail(1, f"{len(mismatched)} file(s) in {a.what} failed verification: {few(mismatched)}; nothing installed")
    if unlisted and a.unlisted == "drop":
        say(f"{len(unlisted)} file(s) have no checksum: not verified, not installed: {few(unlisted)}")
    elif unlisted:
        say(f"{len(unlisted)} file(s) have no checksum: copied, not verified: {few(unlisted)}")
    installed, kept, fresh = 0, 0, set()
    for rel in verified + (unlisted if a.unlisted == "copy" else []):
        src = os.path.join(a.src, *rel.split("/"))
        dst = os.path.join(a.data_dir, *rel.split("/"))
        if os.path.lexists(dst):                       # never overwritten; verified below
            kept += 1
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if a.unlisted == "copy":                       # mirror: copy to a temporary name, rename
            tmp = dst + ".part"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        else:                                          # staging inside DATA_DIR: move
            shutil.move(src, dst)
        installed += 1
        if rel in known:
            fresh.add(rel)                             # an exact copy of a file just verified
    say(f"installed {installed} file(s) into {a.data_dir}; {kept} already there (kept, verified below)")
    verify_data_dir(a.data_dir, known, fresh)


def cmd_verify(a):
    verify_data_dir(a.data_dir, read_lists(a.lists))


def cmd_embedded(a):
    sys.path.insert(0, a.root)
    from depthnerf.embedded import ensure_embedded_scene
    say("embedded scene in", ensure_embedded_scene(a.data_dir))


p = argparse.ArgumentParser(prog="download_example_data helper")
sub = p.add_subparsers(dest="cmd", required=True)
s = sub.add_parser("zip"); s.add_argument("zip"); s.add_argument("staging"); s.add_argument("name")
s.add_argument("archive_list"); s.set_defaults(run=cmd_zip)
s = sub.add_parser("install"); s.add_argument("src"); s.add_argument("data_dir"); s.add_argument("what")
s.add_argument("unlisted", choices=("drop", "copy")); s.add_argument("lists", nargs="+"); s.set_defaults(run=cmd_install)
s = sub.add_parser("verify"); s.add_argument("data_dir"); s.add_argument("lists", nargs="+"); s.set_defaults(run=cmd_verify)
s = sub.add_parser("embedded"); s.add_argument("root"); s.add_argument("data_dir"); s.set_defaults(run=cmd_embedded)
args = p.parse_args(sys.argv[1:])
try:
    args.run(args)
except OSError as e:
    fail(6, f"{e}")
PY
}

require_lists() {
    local list
    for list in "$SYNTHETIC_LIST" "$LLFF_LIST"; do
        [ -f "$list" ] || die 2 "checksum list $list is missing (DEPTHNERF_CHECKSUMS_DIR=$CHECKSUMS_DIR)"
    done
}

copy_from_mirror() {
    local mirror="$1"
    [ -d "$mirror" ] || die 2 "NERF_DATA_MIRROR=$mirror is not a folder"
    mkdir -p "$DATA_DIR"
    say "copying from $mirror into $DATA_DIR (existing files are kept)"
    pyhelper install "$mirror" "$DATA_DIR" "the mirror $mirror" copy "$SYNTHETIC_LIST" "$LLFF_LIST"
}

generate_embedded() {
    pyhelper embedded "$ROOT" "$DATA_DIR"
}

# Download $NERF_EXAMPLE_URL to $1. Sets OFFLINE=1 when there is no network at all (the caller
# falls back to the embedded scene); any other failure exits with a message.
# (Never call these functions in an `if`/`||` context: that would switch `set -e` off inside.)
fetch() {
    local out="$1" url="$NERF_EXAMPLE_URL" proto rc=0 result code bytes
    case "$url" in
        https://*) proto='=https' ;;
        file://*) proto='=file' ;;
        http://*) die 2 "refusing NERF_EXAMPLE_URL=$url: plain http is not accepted, https is required (or a file:// URL for a local copy)" ;;
        *) die 2 "refusing NERF_EXAMPLE_URL=$url: https is required (or a file:// URL for a local copy)" ;;
    esac
    say "downloading $url"
    result=$(curl -fL --proto "$proto" --proto-redir '=https' --tlsv1.2 --retry 3 --retry-delay 2 \
        --connect-timeout 20 --speed-limit 1024 --speed-time 60 \
        -w '%{http_code} %{size_download}' -o "$out" "$url") || rc=$?
    code="${result%% *}"
    bytes="${result##* }"
    case "$rc" in
        0) say "downloaded $bytes bytes" ;;
        5 | 6 | 7)
            say "offline: cannot resolve or reach the host of $url (curl exit $rc)"
            OFFLINE=1 ;;
        28)
            if [ "${bytes:-0}" = 0 ] && [ "${code:-000}" = 000 ]; then
                say "offline: no connection to the host of $url within 20 s (curl exit 28)"
                OFFLINE=1
                return 0
            fi
            die 4 "partial download: the transfer of $url stalled after $bytes bytes (curl exit 28); run again" ;;
        18) die 4 "partial download: $url ended after $bytes bytes, before the announced size (curl exit 18); run again" ;;
        22) die 3 "download failed: $url answered HTTP $code (curl exit 22)" ;;
        16 | 56 | 92)
            if [ "${bytes:-0}" != 0 ]; then
                die 4 "partial download: the connection broke after $bytes bytes of $url (curl exit $rc); run again"
            fi
            die 3 "download failed: $url: the connection broke before any data (curl exit $rc)" ;;
        35 | 51 | 53 | 54 | 58 | 59 | 60 | 64 | 66 | 77 | 80 | 83 | 90 | 91)
            die 3 "download failed: TLS or certificate error for $url (curl exit $rc)" ;;
        37) die 3 "download failed: cannot read $url (curl exit 37: no such file or not readable)" ;;
        *) die 3 "download failed: $url (curl exit $rc)" ;;
    esac
}

download_official() {
    local name zip
    mkdir -p "$DATA_DIR"
    if [ -d "$DATA_DIR/nerf_synthetic/lego" ] && [ -d "$DATA_DIR/nerf_llff_data/fern" ]; then
        say "lego and fern already in $DATA_DIR; not downloading again"
        pyhelper verify "$DATA_DIR" "$SYNTHETIC_LIST" "$LLFF_LIST"
        return 0
    fi
    STAGING="$(mktemp -d "$DATA_DIR/.download-staging.XXXXXX")"
    name="${NERF_EXAMPLE_URL##*/}"
    name="${name%%\?*}"
    zip="$STAGING/$name.download"
    mkdir "$STAGING/tree"
    fetch "$zip"
    [ "$OFFLINE" -eq 0 ] || return 0
    pyhelper zip "$zip" "$STAGING/tree" "$name" "$ARCHIVE_LIST"
    rm -f -- "$zip"
    pyhelper install "$STAGING/tree" "$DATA_DIR" "the archive $name" drop "$SYNTHETIC_LIST" "$LLFF_LIST"
}

require_lists
if [ -n "${NERF_DATA_MIRROR:-}" ]; then
    copy_from_mirror "$NERF_DATA_MIRROR"
elif [ "${DEPTHNERF_OFFLINE:-0}" = 1 ]; then
    say "DEPTHNERF_OFFLINE=1: not downloading; generating the embedded scene instead"
    generate_embedded
else
    download_official
    if [ "$OFFLINE" -eq 1 ]; then
        say "no network and no NERF_DATA_MIRROR: generating the embedded scene instead"
        generate_embedded
    fi
fi
say "done: $DATA_DIR"
