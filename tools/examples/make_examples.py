#!/usr/bin/env python3
"""Synthesises the example clips in examples/ (deterministic; standard library only).

- cough_like_bursts.wav: three noisy bursts with a sharp attack and a decaying envelope,
  band-limited like a cough (most energy 300-3000 Hz), 44.1 kHz stereo, 4 s.
- hum_and_voice.wav: a vowel-like harmonic tone with vibrato over mains hum, 16 kHz mono, 3 s.
- quiet_room.wav: low-level room noise, 22.05 kHz mono, 2.5 s.
They exist so the quick start has something to run on; they are not recordings of anyone.
"""
import math
import os
import random
import struct
import wave

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples")


def write_wav(name, rate, channels):
    path = os.path.join(OUT, name)
    w = wave.open(path, "wb")
    w.setnchannels(len(channels))
    w.setsampwidth(2)
    w.setframerate(rate)
    frames = bytearray()
    for samples in zip(*channels):
        for s in samples:
            frames += struct.pack("<h", max(-32767, min(32767, int(round(s * 32767)))))
    w.writeframes(bytes(frames))
    w.close()


def one_pole_bandpass(x, rate, lo, hi):
    # High-pass at lo then low-pass at hi, one pole each: enough to colour the noise.
    a_hp = math.exp(-2 * math.pi * lo / rate)
    a_lp = math.exp(-2 * math.pi * hi / rate)
    out, prev_x, hp, lp = [], 0.0, 0.0, 0.0
    for v in x:
        hp = a_hp * (hp + v - prev_x)
        prev_x = v
        lp = (1 - a_lp) * hp + a_lp * lp
        out.append(lp)
    return out


def cough_like(rate=44100, seconds=4.0):
    rng = random.Random(7)
    n = int(rate * seconds)
    noise = one_pole_bandpass([rng.gauss(0, 1) for _ in range(n)], rate, 300, 3000)
    env = [0.0] * n
    for onset in (0.5, 1.6, 2.9):
        start = int(onset * rate)
        for i in range(int(0.35 * rate)):
            t = i / rate
            if start + i < n:
                env[start + i] += (1 - math.exp(-t / 0.004)) * math.exp(-t / 0.08)
    left = [0.002 * rng.gauss(0, 1) + 2.5 * e * v for e, v in zip(env, noise)]
    right = [0.9 * s + 0.002 * rng.gauss(0, 1) for s in left]
    peak = max(abs(s) for s in left + right)
    return [[s / peak * 0.8 for s in left], [s / peak * 0.8 for s in right]]


def hum_and_voice(rate=16000, seconds=3.0):
    out = []
    for i in range(int(rate * seconds)):
        t = i / rate
        f0 = 140 * (1 + 0.02 * math.sin(2 * math.pi * 5 * t))
        voice = sum(math.sin(2 * math.pi * f0 * k * t) / k for k in range(1, 12))
        out.append(0.05 * math.sin(2 * math.pi * 50 * t) + 0.15 * voice * (0.6 + 0.4 * math.sin(2 * math.pi * 0.7 * t)))
    return [out]


def quiet_room(rate=22050, seconds=2.5):
    rng = random.Random(11)
    return [one_pole_bandpass([0.01 * rng.gauss(0, 1) for _ in range(int(rate * seconds))], rate, 40, 6000)]


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    write_wav("cough_like_bursts.wav", 44100, cough_like())
    write_wav("hum_and_voice.wav", 16000, hum_and_voice())
    write_wav("quiet_room.wav", 22050, quiet_room())
    print("examples written to", os.path.normpath(OUT))
