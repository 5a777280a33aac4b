"""Tests of the pure protocol layer: plain values, no I/O."""
