"""Debounce: how many ghost-text requests a fast typist sends per answer shown, by wait.

A simulated typist (seeded): key intervals drawn around a 90 words-per-minute pace, a short
pause after some words and a longer one at some line ends. An editor that waits `debounce` ms
after the last keystroke sends a request when the gap is that long; the answer shows if it comes
(`latency` ms later) before the next keystroke, else the request was wasted (cancelled). No
model runs: this is about the editor's side of the traffic.

    python bench/debounce.py [--keys 20000 --latency 500]
"""

from __future__ import annotations

import argparse
import random

DEBOUNCES = (0, 50, 100, 150, 200, 250, 300, 400, 500)


def key_gaps(keys: int, seed: int = 0) -> list[float]:
    """Milliseconds between keystrokes: lognormal around 110 ms (about 90 wpm), a pause after one word in
    six (around 600 ms) and after half the lines (around 1200 ms), a line every 40 keys, a word every 6."""
    rng = random.Random(seed)
    gaps = []
    for i in range(keys):
        gap = rng.lognormvariate(4.7, 0.45)  # median e^4.7 = 110 ms
        if i % 40 == 39 and rng.random() < 0.5:
            gap += rng.lognormvariate(7.1, 0.6)  # median 1200 ms: the end of a line
        elif i % 6 == 5 and rng.random() < 1 / 6:
            gap += rng.lognormvariate(6.4, 0.6)  # median 600 ms: after a word
        gaps.append(gap)
    return gaps


def simulate(gaps: list[float], debounce: float, latency: float) -> dict[str, float]:
    sent = sum(1 for g in gaps if g >= debounce)
    shown = [g for g in gaps if g >= debounce + latency]
    return {
        "debounce": debounce,
        "sent": sent,
        "shown": len(shown),
        "per_shown": sent / max(len(shown), 1),
        "wait": debounce + latency,  # from the last keystroke to the ghost text
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=20000)
    parser.add_argument("--latency", type=float, default=500.0, help="ms from the request to the answer")
    args = parser.parse_args()
    gaps = key_gaps(args.keys)
    print(f"{args.keys} keystrokes, answer latency {args.latency:.0f} ms")
    print("| debounce | requests sent | answers shown | requests per answer shown | keystroke to ghost text |")
    print("|---|---|---|---|---|")
    for debounce in DEBOUNCES:
        r = simulate(gaps, debounce, args.latency)
        print(f"| {debounce} ms | {r['sent']} | {r['shown']} | {r['per_shown']:.2f} | {r['wait']:.0f} ms |")


if __name__ == "__main__":
    main()
