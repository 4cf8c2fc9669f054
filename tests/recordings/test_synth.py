"""Synthetic call audio: WAV format, audibility, both languages, voices, cache, resampling."""

from __future__ import annotations

import io
import math
import statistics
import threading
import wave
from array import array

import pytest

from contact_engine.recordings import synth
from contact_engine.recordings.synth import (
    SpeechSynthesizer,
    SynthesisUnavailable,
    Utterance,
    available,
    duration_s,
)

EN_SHORT = "Hello."
EN_LONG = (
    "Hello, this is a courtesy call about your account. A payment of two hundred dollars "
    "was due on the first of the month. Please call us back at your earliest convenience."
)
ZH_SHORT = "您好。"
ZH_LONG = "您好，这里是客户服务中心。您的账户有一笔两百元的款项已经逾期，请您尽快与我们联系，谢谢。"


@pytest.fixture(scope="module")
def synthesizer() -> SpeechSynthesizer:
    return SpeechSynthesizer()


def _samples(wav: bytes) -> tuple[array[int], wave._wave_params]:
    with wave.open(io.BytesIO(wav), "rb") as reader:
        params = reader.getparams()
        frames = reader.readframes(reader.getnframes())
    samples = array("h")
    samples.frombytes(frames)
    return samples, params


def _rms(samples: array[int]) -> float:
    return math.sqrt(sum(v * v for v in samples) / len(samples)) if samples else 0.0


def _median_f0(pcm: bytes, rate: int = 8000) -> float:
    """Median autocorrelation pitch over the loud frames (80-400 Hz search)."""
    x = array("h")
    x.frombytes(pcm)
    n = 256
    estimates = []
    for start in range(0, len(x) - n - 100, n):
        frame = x[start : start + n + 100]
        if sum(v * v for v in frame[:n]) < n * 1000**2:
            continue
        lag = max(
            range(rate // 400, rate // 80),
            key=lambda k: sum(a * b for a, b in zip(frame[:n], frame[k : k + n], strict=True)),
        )
        estimates.append(rate / lag)
    assert estimates, "no voiced frames"
    return statistics.median(estimates)


def test_available() -> None:
    assert available() is True


def test_wav_is_mono_16bit_8khz(synthesizer: SpeechSynthesizer) -> None:
    wav = synthesizer.render(
        [
            Utterance("agent", EN_LONG, "en-US"),
            Utterance("party", "Yes, speaking.", "en-US"),
            Utterance("agent", ZH_LONG, "zh-CN"),
        ]
    )
    samples, params = _samples(wav)
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    assert params.nchannels == 1
    assert params.sampwidth == 2
    assert params.framerate == 8000
    assert params.comptype == "NONE"
    assert len(samples) == params.nframes > 0
    assert synthesizer.duration_s(wav) == pytest.approx(params.nframes / 8000)
    assert duration_s(wav) == synthesizer.duration_s(wav)
    assert 5.0 < synthesizer.duration_s(wav) < 60.0


@pytest.mark.parametrize(
    ("language", "short", "long"),
    [("en-US", EN_SHORT, EN_LONG), ("zh-CN", ZH_SHORT, ZH_LONG)],
)
@pytest.mark.parametrize("speaker", ["agent", "party"])
def test_both_languages_audible_and_duration_grows_with_text(
    synthesizer: SpeechSynthesizer, speaker: str, language: str, short: str, long: str
) -> None:
    short_wav = synthesizer.render([Utterance(speaker, short, language)])
    long_wav = synthesizer.render([Utterance(speaker, long, language)])
    assert synthesizer.duration_s(short_wav) > 0.2
    assert synthesizer.duration_s(long_wav) > 3 * synthesizer.duration_s(short_wav)
    samples, _ = _samples(long_wav)
    assert _rms(samples) > 500  # well above silence (full scale is 32767)
    assert max(abs(v) for v in samples) > 4000


def test_chinese_is_spoken_not_spelled(synthesizer: SpeechSynthesizer) -> None:
    """Each Hanzi is one syllable: 8 characters take far less than 8 spelled-out names."""
    seconds = synthesizer.duration_s(
        synthesizer.render([Utterance("agent", "请您尽快还款谢谢", "zh-CN")])
    )
    assert 0.8 < seconds < 4.0


def test_pauses_between_utterances(synthesizer: SpeechSynthesizer) -> None:
    lines = [Utterance("agent", EN_SHORT, "en-US"), Utterance("party", "Hi.", "en-US")]
    tight = synthesizer.duration_s(synthesizer.render(lines, pause_s=0.0))
    loose = synthesizer.duration_s(synthesizer.render(lines, pause_s=1.0))
    assert loose - tight == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="pause_s"):
        synthesizer.render(lines, pause_s=-1)


def test_agent_and_party_voices_differ(synthesizer: SpeechSynthesizer) -> None:
    for language, text in (("en-US", EN_LONG), ("zh-CN", ZH_LONG)):
        agent = synthesizer.pcm(Utterance("agent", text, language))
        party = synthesizer.pcm(Utterance("party", text, language))
        assert agent != party
        assert _median_f0(party) > 1.5 * _median_f0(agent)


def test_voice_names() -> None:
    assert synth.voice_for("agent", "zh-CN").name == "cmn"
    assert synth.voice_for("party", "zh-TW").name == "cmn+f3"
    assert synth.voice_for("agent", "en-US").name == "en-us"
    assert synth.voice_for("party", "en").name == "en-us+f3"
    assert synth.voice_for("agent", "en-GB").name == "en"


def test_cache_returns_identical_bytes() -> None:
    synthesizer = SpeechSynthesizer(cache_size=8)
    call = [
        Utterance("agent", "This call may be recorded.", "en-US"),
        Utterance("party", "好的。", "zh-CN"),
        Utterance("agent", "This call may be recorded.", "en-US"),
    ]
    first = synthesizer.render(call)
    assert (synthesizer.hits, synthesizer.misses) == (1, 2)
    second = synthesizer.render(call)
    assert second == first
    assert (synthesizer.hits, synthesizer.misses) == (4, 2)
    # espeak-ng is not bit-exact from one synthesis to the next (its pitch flutter carries
    # state across calls), so a cold synthesizer gives the same call only to within a little.
    fresh = SpeechSynthesizer(cache_size=0)
    assert fresh.duration_s(fresh.render(call)) == pytest.approx(
        synthesizer.duration_s(first), rel=0.02
    )


def test_cache_is_lru_and_bounded() -> None:
    synthesizer = SpeechSynthesizer(cache_size=2)
    a, b, c = (Utterance("agent", text, "en-US") for text in ("One.", "Two.", "Three."))
    for utterance in (a, b, a, c):  # c evicts b (a was used more recently)
        synthesizer.pcm(utterance)
    assert synthesizer.misses == 3
    synthesizer.pcm(a)
    assert synthesizer.misses == 3
    synthesizer.pcm(b)
    assert synthesizer.misses == 4


def test_empty_utterance_list_is_a_clear_error(synthesizer: SpeechSynthesizer) -> None:
    with pytest.raises(ValueError, match="no utterances"):
        synthesizer.render([])


def test_blank_text_is_just_silence(synthesizer: SpeechSynthesizer) -> None:
    wav = synthesizer.render([Utterance("party", "   ", "en-US")])
    assert synthesizer.duration_s(wav) == 0.0


def test_invalid_utterances_rejected() -> None:
    with pytest.raises(ValueError, match="speaker"):
        Utterance("robot", "Hello.", "en-US")
    with pytest.raises(ValueError, match="unsupported language"):
        Utterance("agent", "Bonjour.", "fr-FR")
    with pytest.raises(ValueError):
        SpeechSynthesizer(sample_rate=0)
    with pytest.raises(ValueError):
        SpeechSynthesizer(cache_size=-1)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 22050])
def test_other_sample_rates(sample_rate: int) -> None:
    synthesizer = SpeechSynthesizer(sample_rate)
    wav = synthesizer.render([Utterance("agent", EN_LONG, "en-US")])
    samples, params = _samples(wav)
    assert params.framerate == sample_rate
    assert 5.0 < synthesizer.duration_s(wav) < 20.0
    assert _rms(samples) > 500


def test_python_and_ffmpeg_resamplers_agree() -> None:
    line = [Utterance("agent", EN_LONG, "en-US")]
    by_python = SpeechSynthesizer(resampler="python").render(line)
    by_ffmpeg = SpeechSynthesizer(resampler="ffmpeg").render(line)
    a, _ = _samples(by_python)
    b, _ = _samples(by_ffmpeg)
    assert len(a) == pytest.approx(len(b), rel=0.02)
    assert _rms(a) == pytest.approx(_rms(b), rel=0.1)


def _tone(freq: float, rate: int, seconds: float, amplitude: int = 10000) -> bytes:
    n = int(rate * seconds)
    return array(
        "h", (round(amplitude * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    ).tobytes()


def test_python_resampler_keeps_passband_and_filters_aliases() -> None:
    passband = array("h")
    passband.frombytes(synth.resample(_tone(1000, 22050, 0.5), 22050, 8000))
    assert len(passband) == 4000
    assert _rms(passband[200:-200]) == pytest.approx(10000 / math.sqrt(2), rel=0.03)
    # 6 kHz would alias to 2 kHz at 8 kHz without the low-pass filter.
    stopband = array("h")
    stopband.frombytes(synth.resample(_tone(6000, 22050, 0.5), 22050, 8000))
    assert _rms(stopband[200:-200]) < 100
    # Upsampling works too.
    up = array("h")
    up.frombytes(synth.resample(_tone(1000, 8000, 0.5), 8000, 16000))
    assert len(up) == 8000
    assert _rms(up[400:-400]) == pytest.approx(10000 / math.sqrt(2), rel=0.03)


def test_concurrent_renders_are_safe() -> None:
    lines = [Utterance("agent", f"Line number {n}.", "en-US") for n in range(6)]
    reference = SpeechSynthesizer(cache_size=0)
    expected = [reference.duration_s(reference.render([line])) for line in lines]
    shared = SpeechSynthesizer(cache_size=0)
    results: dict[int, bytes] = {}
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            results[index] = shared.render([lines[index % len(lines)]])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(18)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for i in range(18):
        samples, _ = _samples(results[i])
        assert shared.duration_s(results[i]) == pytest.approx(expected[i % len(lines)], rel=0.05)
        assert _rms(samples) > 500


def test_unloadable_library_raises_synthesis_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    import espeakng_loader

    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: "/nonexistent/libespeak-ng.so")
    with pytest.raises(SynthesisUnavailable, match="espeak-ng unavailable") as info:
        synth._Espeak()
    assert "\n" not in str(info.value)
