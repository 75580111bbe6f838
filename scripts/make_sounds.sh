#!/bin/sh
# Makes the bundled sounds in src/impasto/data/sounds/ from Debian packages only (nothing is
# downloaded): apt-get install espeak-ng sox libsox-fmt-all fluidsynth fluid-soundfont-gm.
# Each is mono, 22.05 kHz, a few seconds, Ogg Vorbis (SOURCES.md there says where each came from).
# Run from the repository root: sh scripts/make_sounds.sh
set -eu
OUT=src/impasto/data/sounds
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SF2=/usr/share/sounds/sf2/FluidR3_GM.sf2
for tool in espeak-ng sox fluidsynth python3; do
    command -v "$tool" >/dev/null || { echo "make_sounds: $tool is missing" >&2; exit 1; }
done
test -f "$SF2" || { echo "make_sounds: $SF2 is missing (fluid-soundfont-gm)" >&2; exit 1; }

# Speech: espeak-ng's English voice, a little slower than its default.
espeak-ng -v en-gb -s 140 -p 45 -w "$TMP/speech.wav" \
    "The quick brown fox jumps over the lazy dog, and the cat sleeps in the sun."
sox "$TMP/speech.wav" -r 22050 -c 1 -C 3 "$OUT/speech.ogg" norm -3 trim 0 5

# Music: a four-bar chorale-style phrase (melody and bass, written for impasto) as a MIDI file,
# played by the General MIDI cello (program 43) of the FluidR3 soundfont.
python3 - "$TMP/cello.mid" <<'PY'
import struct, sys
TPB = 480  # ticks per quarter note
# (MIDI note, quarters) for the melody (channel 0) and the bass (channel 1): G major.
melody = [(67, 1), (71, 1), (74, 1), (72, 1), (71, 2), (69, 2),
          (67, 1), (69, 1), (71, 1), (72, 1), (74, 2), (67, 2)]
bass = [(43, 2), (48, 2), (50, 2), (50, 2), (52, 2), (48, 2), (50, 2), (43, 2)]
def vlq(n):
    out = [n & 0x7F]
    while n > 127:
        n >>= 7
        out.insert(0, (n & 0x7F) | 0x80)
    return bytes(out)
def track(notes, channel):
    data = bytes([0x00, 0xC0 | channel, 42])  # program 43 (0-based 42): cello
    for note, quarters in notes:
        data += vlq(0) + bytes([0x90 | channel, note, 80])
        data += vlq(quarters * TPB) + bytes([0x80 | channel, note, 0])
    data += b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(data)) + data
tempo = b"\x00\xff\x51\x03" + (600000).to_bytes(3, "big") + b"\x00\xff\x2f\x00"  # 100 bpm
head = b"MThd" + struct.pack(">IHHH", 6, 1, 3, TPB)
tracks = b"MTrk" + struct.pack(">I", len(tempo)) + tempo + track(melody, 0) + track(bass, 1)
open(sys.argv[1], "wb").write(head + tracks)
PY
fluidsynth -ni -g 0.8 -r 22050 -F "$TMP/cello.wav" "$SF2" "$TMP/cello.mid" >/dev/null
sox "$TMP/cello.wav" -r 22050 -c 1 -C 3 "$OUT/cello.ogg" norm -3 trim 0 7 fade 0 7 0.3

# Texture: rain, pink noise with a soft low end and random louder drops, from sox's synth.
sox -n -r 22050 -c 1 "$TMP/hiss.wav" synth 5 pinknoise gain -12 highpass 400 lowpass 9000
sox -n -r 22050 -c 1 "$TMP/drops.wav" synth 5 whitenoise gain -6 highpass 2000 \
    tremolo 13 90 tremolo 7.3 80
sox -m "$TMP/hiss.wav" "$TMP/drops.wav" -C 3 "$OUT/rain.ogg" norm -3 fade 0.2 5 0.2
ls -l "$OUT"
