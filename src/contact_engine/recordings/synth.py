"""Synthetic call audio: offline speech synthesis of a call script and simulated replies.

The simulated telephony provider needs recordings that sound like calls: the automated voice
(or collector) reads the script, the called party answers. This module renders such a call as a
mono 16-bit PCM WAV file with espeak-ng, loaded through ctypes from the ``espeakng_loader``
package (which ships ``libespeak-ng.so`` and its data), so nothing is fetched at run time and no
system package is needed.

espeak-ng keeps global state and is not thread-safe: it is initialized once per process and
every call into it is made under one module-level lock. Synthesis produces 22050 Hz samples,
which are resampled in pure Python (windowed-sinc polyphase filter, no ``audioop``) to the
requested rate, 8000 Hz by default as on a phone line. Synthesized lines are cached per
``(speaker, language, text)`` in an LRU, so the lines a demo repeats across thousands of calls
are synthesized once.
"""

from __future__ import annotations

import ctypes
import io
import math
import os
import subprocess
import sys
import threading
import wave
from array import array
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import mul
from typing import Literal

__all__ = [
    "SpeechSynthesizer",
    "SynthesisUnavailable",
    "Utterance",
    "available",
    "duration_s",
    "voice_for",
]

SPEAKERS: frozenset[str] = frozenset({"agent", "party"})


class SynthesisUnavailable(RuntimeError):
    """espeak-ng cannot be loaded or used in this process."""


@dataclass(frozen=True, slots=True)
class Utterance:
    """One line of a call: who says it, what, and in which language."""

    speaker: str  # "agent" (the automated voice or collector) or "party" (the person called)
    text: str  # Chinese or English text
    language: str  # "zh-CN" or "en-US" (zh* -> Mandarin voice, en* -> English voice)

    def __post_init__(self) -> None:
        if self.speaker not in SPEAKERS:
            raise ValueError(f"speaker must be 'agent' or 'party', not {self.speaker!r}")
        _espeak_language(self.language)  # raises ValueError for an unsupported language


# --- voices ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Voice:
    """An espeak-ng voice name (with an optional ``+variant``) and prosody settings."""

    name: str
    pitch: int  # espeakPITCH, 0-100 (50 is the voice's default)
    pitch_range: int  # espeakRANGE, 0-100
    rate: int  # espeakRATE, words per minute


def _espeak_language(language: str) -> str:
    """The espeak-ng voice for a BCP 47 language tag: zh* -> ``cmn``, en* -> English."""
    tag = language.strip().lower().replace("_", "-")
    if tag.startswith(("zh", "cmn")):
        return "cmn"
    if tag in ("en-gb", "en-uk") or tag.startswith(("en-gb-", "en-uk-")):
        return "en"
    if tag == "en" or tag.startswith("en-"):
        return "en-us"
    raise ValueError(
        f"unsupported language {language!r}: expected zh-* (Mandarin) or en-* (English)"
    )


def voice_for(speaker: str, language: str) -> Voice:
    """The voice used for ``speaker`` in ``language``.

    The agent speaks with the language's default (male) voice, a little slower and lower; the
    party with the ``f3`` (female) variant, higher and a little faster, so the two are easy to
    tell apart in a recording.
    """
    base = _espeak_language(language)
    if speaker == "agent":
        return Voice(name=base, pitch=40, pitch_range=50, rate=160)
    if speaker == "party":
        return Voice(name=f"{base}+f3", pitch=65, pitch_range=70, rate=175)
    raise ValueError(f"speaker must be 'agent' or 'party', not {speaker!r}")


# --- espeak-ng through ctypes ---------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
_PARAM_RANGE = 4

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)


class _Espeak:
    """The process-wide espeak-ng engine. Use only while holding ``_LOCK``."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:
            raise SynthesisUnavailable(
                f"espeak-ng unavailable: the espeakng_loader package is not installed ({exc})"
            ) from None
        lib_path = str(espeakng_loader.get_library_path())
        data_path = str(espeakng_loader.get_data_path())
        try:
            lib = ctypes.CDLL(lib_path)
        except OSError as exc:
            raise SynthesisUnavailable(
                f"espeak-ng unavailable: cannot load {lib_path}: {exc}"
            ) from None
        if not os.path.isdir(data_path):
            raise SynthesisUnavailable(f"espeak-ng unavailable: no data directory at {data_path}")

        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.argtypes = []
        lib.espeak_Synchronize.restype = ctypes.c_int

        rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if rate <= 0:
            raise SynthesisUnavailable(
                f"espeak-ng unavailable: espeak_Initialize failed ({rate}) with data at {data_path}"
            )
        self.lib = lib
        self.data_path = data_path
        self.sample_rate: int = rate
        self._chunks: list[bytes] = []
        # Kept on the instance so the C callback is never garbage-collected.
        self._callback = _SynthCallback(self._on_samples)
        lib.espeak_SetSynthCallback(self._callback)
        self._voice: Voice | None = None

    def _on_samples(self, wav: int | None, numsamples: int, _events: int | None) -> int:
        if wav and numsamples > 0:
            self._chunks.append(ctypes.string_at(wav, numsamples * 2))
        return 0  # continue synthesis

    def _set_voice(self, voice: Voice) -> None:
        if voice == self._voice:
            return
        if self.lib.espeak_SetVoiceByName(voice.name.encode()) != _EE_OK:
            self._voice = None
            raise SynthesisUnavailable(
                f"espeak-ng voice {voice.name!r} not found in {self.data_path}"
            )
        # Setting a voice resets the parameters, so set them after it.
        self.lib.espeak_SetParameter(_PARAM_RATE, voice.rate, 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, voice.pitch, 0)
        self.lib.espeak_SetParameter(_PARAM_RANGE, voice.pitch_range, 0)
        self.lib.espeak_SetParameter(_PARAM_VOLUME, 100, 0)
        self._voice = voice

    def synth(self, text: str, voice: Voice) -> bytes:
        """16-bit native-endian samples at ``self.sample_rate`` for ``text`` in ``voice``."""
        self._set_voice(voice)
        data = text.encode("utf-8") + b"\0"
        buf = ctypes.create_string_buffer(data, len(data))
        self._chunks = []
        try:
            err = self.lib.espeak_Synth(
                buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            if err != _EE_OK:
                raise SynthesisUnavailable(f"espeak-ng synthesis failed (error {err})")
            self.lib.espeak_Synchronize()
            return b"".join(self._chunks)
        finally:
            self._chunks = []


_LOCK = threading.Lock()
_engine: _Espeak | None = None
_engine_error: SynthesisUnavailable | None = None


def _get_engine() -> _Espeak:
    """The process-wide engine, initialized on first use. Call with ``_LOCK`` held."""
    global _engine, _engine_error
    if _engine is not None:
        return _engine
    if _engine_error is not None:
        raise _engine_error
    try:
        _engine = _Espeak()
    except SynthesisUnavailable as exc:
        _engine_error = exc
        raise
    return _engine


def available() -> bool:
    """True when espeak-ng loads and initializes in this process."""
    with _LOCK:
        try:
            _get_engine()
        except SynthesisUnavailable:
            return False
    return True


def _synthesize(text: str, voice: Voice) -> tuple[bytes, int]:
    with _LOCK:
        engine = _get_engine()
        return engine.synth(text, voice), engine.sample_rate


# --- resampling -----------------------------------------------------------------------------

_COEF_BITS = 15
_INT16_MIN = -32768
_INT16_MAX = 32767


@lru_cache(maxsize=16)
def _polyphase(src_rate: int, dst_rate: int) -> tuple[int, int, int, tuple[tuple[int, ...], ...]]:
    """Integer windowed-sinc (Blackman) kernels, one per output phase.

    Returns ``(up, down, half, kernels)``: output sample ``n`` sits at input position
    ``n * down / up``; with ``i = n * down // up`` and phase ``p = n * down % up`` it is
    ``sum(kernels[p][k] * x[i - half + 1 + k]) >> _COEF_BITS``.
    """
    g = math.gcd(src_rate, dst_rate)
    up, down = dst_rate // g, src_rate // g
    # Cutoff as a fraction of the input Nyquist: a little under the lower of the two Nyquists.
    cutoff = 0.92 * min(1.0, dst_rate / src_rate)
    zero_crossings = 6
    half = max(2, math.ceil(zero_crossings / cutoff))
    scale = 1 << _COEF_BITS
    kernels: list[tuple[int, ...]] = []
    for p in range(up):
        frac = p / up
        weights: list[float] = []
        for k in range(2 * half):
            tau = (k - half + 1) - frac  # input offset relative to the output position
            x = tau / half
            if abs(x) >= 1.0:
                weights.append(0.0)
                continue
            window = 0.42 + 0.5 * math.cos(math.pi * x) + 0.08 * math.cos(2 * math.pi * x)
            arg = math.pi * cutoff * tau
            sinc = 1.0 if arg == 0 else math.sin(arg) / arg
            weights.append(cutoff * sinc * window)
        total = sum(weights) or 1.0
        kernels.append(tuple(round(w / total * scale) for w in weights))
    return up, down, half, tuple(kernels)


def resample(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Resample 16-bit native-endian mono samples from ``src_rate`` to ``dst_rate``.

    Pure Python (no ``audioop``): about 20 ms per second of 22050 Hz input.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError("sample rates must be positive")
    if src_rate == dst_rate or not pcm:
        return pcm
    samples = array("h")
    samples.frombytes(pcm)
    up, down, half, kernels = _polyphase(src_rate, dst_rate)
    taps = 2 * half
    padded = array("h", bytes(2 * half)) + samples + array("h", bytes(2 * half))
    # x[j] is padded[j + half]; output n needs x[i - half + 1 : i + half + 1] -> padded[i + 1 :].
    n_out = (len(samples) * up) // down
    out = array("h", bytes(2 * n_out))
    shift = _COEF_BITS
    rounding = 1 << (shift - 1)
    pos = 0  # n * down
    for n in range(n_out):
        i, p = divmod(pos, up)
        acc = (sum(map(mul, kernels[p], padded[i + 1 : i + 1 + taps])) + rounding) >> shift
        out[n] = _INT16_MAX if acc > _INT16_MAX else _INT16_MIN if acc < _INT16_MIN else acc
        pos += down
    return out.tobytes()


_FFMPEG_TIMEOUT_S = 60.0
_ffmpeg_exe: str | None = None
_ffmpeg_broken = False


def _find_ffmpeg() -> str | None:
    global _ffmpeg_exe, _ffmpeg_broken
    if _ffmpeg_exe is not None or _ffmpeg_broken:
        return _ffmpeg_exe
    try:
        import imageio_ffmpeg

        _ffmpeg_exe = str(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # not installed, or no binary for this platform
        _ffmpeg_broken = True
    return _ffmpeg_exe


def resample_ffmpeg(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """Resample 16-bit native-endian mono samples with the ffmpeg that imageio_ffmpeg ships.

    About 5x faster than :func:`resample` on a sentence (one process per call, ~15 ms).
    Raises ``OSError`` or ``subprocess.SubprocessError`` when ffmpeg is missing or fails.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError("sample rates must be positive")
    if src_rate == dst_rate or not pcm:
        return pcm
    exe = _find_ffmpeg()
    if exe is None:
        raise FileNotFoundError("imageio_ffmpeg provides no ffmpeg binary")
    fmt = "s16le" if sys.byteorder == "little" else "s16be"
    # fmt: off
    command = [
        exe, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-f", fmt, "-ar", str(src_rate), "-ac", "1", "-i", "pipe:0",
        "-ar", str(dst_rate), "-ac", "1", "-f", fmt, "pipe:1",
    ]
    # fmt: on
    done = subprocess.run(
        command, input=pcm, capture_output=True, check=True, timeout=_FFMPEG_TIMEOUT_S
    )
    if not done.stdout and pcm:
        raise subprocess.SubprocessError("ffmpeg produced no samples")
    return done.stdout


def _resample_auto(pcm: bytes, src_rate: int, dst_rate: int) -> bytes:
    """ffmpeg when it works in this process, else pure Python."""
    global _ffmpeg_broken
    if src_rate == dst_rate or not pcm:
        return pcm
    if not _ffmpeg_broken and _find_ffmpeg() is not None:
        try:
            return resample_ffmpeg(pcm, src_rate, dst_rate)
        except (OSError, subprocess.SubprocessError):
            _ffmpeg_broken = True  # don't pay for a failing process on every line
    return resample(pcm, src_rate, dst_rate)


# --- WAV ------------------------------------------------------------------------------------


def duration_s(wav: bytes) -> float:
    """The duration in seconds of a WAV file given as bytes."""
    with wave.open(io.BytesIO(wav), "rb") as reader:
        rate = reader.getframerate()
        return reader.getnframes() / rate if rate else 0.0


def _to_little_endian(pcm: bytes) -> bytes:
    if sys.byteorder == "little":
        return pcm
    samples = array("h")
    samples.frombytes(pcm)
    samples.byteswap()
    return samples.tobytes()


class SpeechSynthesizer:
    """Renders utterances to a mono 16-bit PCM WAV at ``sample_rate``.

    Thread-safe; synthesized lines are cached per ``(speaker, language, text)`` in an LRU of
    ``cache_size`` entries (``0`` disables the cache). ``resampler`` picks how espeak-ng's
    22050 Hz output is brought to ``sample_rate``: ``"ffmpeg"`` (the binary imageio_ffmpeg
    ships, fast), ``"python"`` (pure Python, no subprocess) or ``"auto"`` (ffmpeg when it
    works, else Python).
    """

    def __init__(
        self,
        sample_rate: int = 8000,
        *,
        cache_size: int = 512,
        resampler: Literal["auto", "ffmpeg", "python"] = "auto",
    ) -> None:
        if resampler not in ("auto", "ffmpeg", "python"):
            raise ValueError(f"resampler must be 'auto', 'ffmpeg' or 'python', not {resampler!r}")
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, not {sample_rate}")
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, not {cache_size}")
        self.sample_rate = sample_rate
        self.cache_size = cache_size
        self.resampler = resampler
        self._cache: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def pcm(self, utterance: Utterance) -> bytes:
        """The line's 16-bit little-endian samples at ``sample_rate`` (cached)."""
        key = (utterance.speaker, _espeak_language(utterance.language), utterance.text)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return cached
            self.misses += 1
        text = utterance.text.strip()
        if text:
            raw, rate = _synthesize(text, voice_for(utterance.speaker, utterance.language))
            pcm = _to_little_endian(self._resample(raw, rate))
        else:
            pcm = b""
        if self.cache_size:
            with self._cache_lock:
                self._cache[key] = pcm
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return pcm

    def _resample(self, raw: bytes, rate: int) -> bytes:
        if self.resampler == "python":
            return resample(raw, rate, self.sample_rate)
        if self.resampler == "ffmpeg":
            try:
                return resample_ffmpeg(raw, rate, self.sample_rate)
            except (OSError, subprocess.SubprocessError) as exc:
                raise SynthesisUnavailable(f"ffmpeg resampling failed: {exc}") from None
        return _resample_auto(raw, rate, self.sample_rate)

    def render(self, utterances: Sequence[Utterance], *, pause_s: float = 0.4) -> bytes:
        """A complete mono 16-bit PCM WAV file (bytes) at ``sample_rate``.

        The utterances in order with ``pause_s`` of silence between them; agent and party use
        different voices and pitch so they are distinguishable.
        """
        if not utterances:
            raise ValueError("cannot render a call with no utterances")
        if not (pause_s >= 0 and math.isfinite(pause_s)):
            raise ValueError(f"pause_s must be a finite number >= 0, not {pause_s}")
        pause = bytes(2 * round(pause_s * self.sample_rate))
        parts: list[bytes] = []
        for index, utterance in enumerate(utterances):
            if index:
                parts.append(pause)
            parts.append(self.pcm(utterance))
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(self.sample_rate)
            writer.writeframes(b"".join(parts))
        return buffer.getvalue()

    def duration_s(self, wav: bytes) -> float:
        """The duration in seconds of a WAV file given as bytes."""
        return duration_s(wav)

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()
