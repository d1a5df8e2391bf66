"""The reconciliation evaluation set (build.py) and the voice calibration that sets reconciliation's bars
(calibrate.py). Evaluation uses the speech set's held-out `test` voices only; calibration uses only the speech
set's `dev` voices and the project corpus's voices. No voice (no `source`) is ever on both sides."""
