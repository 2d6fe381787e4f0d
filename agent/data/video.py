"""Constant-frame-rate mp4 with PyAV: encode episode segments, append them by remuxing, decode."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CRF = "18"


def pick_codec() -> str:
    """The encoder: libx264 where this PyAV build has it, else mpeg4 (both yuv420p, no B-frames)."""
    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def codec_name(codec: str) -> str:
    """The codec an encoder writes, as LeRobot's info.json names it (the stream's canonical name:
    libx264 -> h264); datasets only merge with LeRobot's when the names agree."""
    return av.codec.Codec(codec, "w").canonical_name


class SegmentEncoder:
    """Encodes one episode of one camera, frame by frame, into its own mp4 (frame i at i / fps)."""

    def __init__(self, path: Path, fps: int, height: int, width: int, codec: str) -> None:
        if height % 2 or width % 2:
            raise ValueError(f"yuv420p needs even image sides, got {height}x{width}")
        self.path = path
        self.container = av.open(str(path), "w", format="mp4")
        self.stream = self.container.add_stream(codec, rate=Fraction(fps))
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.codec_context.time_base = Fraction(1, fps)
        if self.stream.codec_context.name == "libx264":  # codec "h264" picks it too
            self.stream.options = {"crf": CRF, "preset": "veryfast", "x264-params": "bframes=0"}
        else:
            self.stream.codec_context.bit_rate = 4 * width * height * fps
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        self.frames += 1
        self.container.mux(self.stream.encode(frame))

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        self.container.mux(self.stream.encode(None))
        self.container.close()


def _extradata(path: Path) -> bytes:
    with av.open(str(path)) as c:
        return bytes(c.streams.video[0].codec_context.extradata or b"")


def can_append(existing: Path, segment: Path) -> bool:
    """Whether `segment` can be remuxed after `existing` (same codec headers, so one stream)."""
    return _extradata(existing) == _extradata(segment)


def concat(parts: list[tuple[Path, int]], out: Path, fps: int) -> None:
    """Remux (no re-encode) parts, each (path, frame count), into one CFR mp4 at `out`."""
    with av.open(str(out), "w", format="mp4") as dst:
        stream = None
        start = 0  # frames already written
        for path, frames in parts:
            with av.open(str(path)) as src:
                s_in = src.streams.video[0]
                if stream is None:
                    stream = dst.add_stream_from_template(s_in)
                offset = round(Fraction(start, fps) / s_in.time_base)
                for pkt in src.demux(s_in):
                    if pkt.dts is None:
                        continue
                    pkt.pts += offset
                    pkt.dts += offset
                    pkt.stream = stream
                    dst.mux(pkt)
            start += frames


def count_frames(path: Path) -> int:
    """Number of video packets (= frames, one per packet in our files) without decoding."""
    with av.open(str(path)) as c:
        return sum(1 for pkt in c.demux(c.streams.video[0]) if pkt.dts is not None)


def first_frame(path: Path) -> np.ndarray:
    """The first decoded frame, uint8 [H, W, 3] (raises when this PyAV build cannot decode the file)."""
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise ValueError(f"{path}: no frame decoded")


def decode(path: Path) -> np.ndarray:
    """All frames of a file as uint8 [N, H, W, 3], in presentation order."""
    with av.open(str(path)) as c:
        frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    frames.sort(key=lambda pf: pf[0])
    return np.stack([f for _, f in frames]) if frames else np.zeros((0, 0, 0, 3), np.uint8)


def frame_times(path: Path) -> np.ndarray:
    """Presentation time of every frame, seconds (for timestamp checks)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        pts = sorted(p.pts for p in c.demux(s) if p.pts is not None)
        return np.array([float(p * s.time_base) for p in pts])
