#!/usr/bin/env bash
# Get example data into data/ (or $DATA_DIR), in this order of preference:
#   1. NERF_DATA_MIRROR=<dir>  copy nerf_synthetic/, nerf_llff_data/ and dsnerf_poster_less/ from a
#                              local folder (no network), then verify the NeRF-Synthetic files;
#   2. online                  download the official NeRF example data (lego + fern) from
#                              $NERF_EXAMPLE_URL and verify it;
#   3. otherwise               generate the embedded scene (data/embedded), which needs nothing.
# NeRF-Synthetic files are verified against data_checksums/nerf_synthetic_sha256_size.txt (sha256
# and size of every file of the 8 official scenes). Running it again re-verifies and skips what is
# already there. Exit status 1 on a checksum mismatch, naming the file.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-$ROOT/data}"
CHECKSUMS="$ROOT/data_checksums/nerf_synthetic_sha256_size.txt"
NERF_EXAMPLE_URL="${NERF_EXAMPLE_URL:-http://cseweb.ucsd.edu/~viscomp/projects/LF/papers/ECCV20/nerf/nerf_example_data.zip}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3

say() { echo "[download_example_data] $*"; }

# Verify every file under $DATA_DIR/nerf_synthetic that the checksum list knows; report listed
# files that are absent (a partial mirror is allowed, a wrong file is not).
verify_nerf_synthetic() {
    local dir="$DATA_DIR/nerf_synthetic" bad=0 sha path size actual_size
    [ -d "$dir" ] || return 0
    for scene in "$dir"/*/; do
        scene="$(basename "$scene")"
        local scene_checked=0 scene_absent=0
        while read -r sha path size; do
            if [ ! -f "$DATA_DIR/$path" ]; then
                scene_absent=$((scene_absent + 1)); continue
            fi
            actual_size=$(stat -c %s "$DATA_DIR/$path")
            if [ "$actual_size" != "$size" ] || [ "$(sha256sum "$DATA_DIR/$path" | cut -d' ' -f1)" != "$sha" ]; then
                say "CHECKSUM MISMATCH: $DATA_DIR/$path (size $actual_size, expected $size); delete it and run again"
                bad=$((bad + 1))
            fi
            scene_checked=$((scene_checked + 1))
        done < <(grep " nerf_synthetic/$scene/" "$CHECKSUMS")
        if [ "$scene_checked" -eq 0 ]; then
            say "nerf_synthetic/$scene: not an official scene (no checksums), not verified"
        else
            say "nerf_synthetic/$scene: verified $scene_checked files, $scene_absent listed files not present"
        fi
    done
    if [ "$bad" -gt 0 ]; then
        say "$bad file(s) failed verification"
        return 1
    fi
}

copy_from_mirror() {
    local mirror="$1" found=0
    [ -d "$mirror" ] || { say "NERF_DATA_MIRROR=$mirror is not a folder"; exit 1; }
    mkdir -p "$DATA_DIR"
    for name in nerf_synthetic nerf_llff_data dsnerf_poster_less; do
        if [ -d "$mirror/$name" ]; then
            say "copying $mirror/$name -> $DATA_DIR/$name (existing files are kept)"
            mkdir -p "$DATA_DIR/$name"
            cp -R -n "$mirror/$name/." "$DATA_DIR/$name/"
            found=1
        fi
    done
    [ "$found" -eq 1 ] || { say "$mirror holds none of nerf_synthetic/, nerf_llff_data/, dsnerf_poster_less/"; exit 1; }
}

download_official() {
    local zip="$DATA_DIR/.nerf_example_data.zip"
    mkdir -p "$DATA_DIR"
    if [ -d "$DATA_DIR/nerf_synthetic/lego" ] && [ -d "$DATA_DIR/nerf_llff_data/fern" ]; then
        say "lego and fern already in $DATA_DIR; not downloading again"
        return
    fi
    say "downloading $NERF_EXAMPLE_URL"
    curl -fL --retry 3 -o "$zip.part" "$NERF_EXAMPLE_URL"
    mv "$zip.part" "$zip"
    unzip -q -n "$zip" -d "$DATA_DIR"
    rm -f "$zip"
}

online() { curl -fsI --max-time 10 "$NERF_EXAMPLE_URL" > /dev/null 2>&1; }

if [ -n "${NERF_DATA_MIRROR:-}" ]; then
    copy_from_mirror "$NERF_DATA_MIRROR"
    verify_nerf_synthetic
elif online; then
    download_official
    verify_nerf_synthetic
else
    say "offline and no NERF_DATA_MIRROR: generating the embedded scene instead"
    "$PYTHON" -c "import sys; sys.path.insert(0, '$ROOT'); from depthnerf.data import ensure_embedded_scene; print('[download_example_data] embedded scene in', ensure_embedded_scene('$DATA_DIR'))"
fi
say "done: $DATA_DIR"
