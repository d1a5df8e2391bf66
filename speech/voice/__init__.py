"""The speaker-embedding front end and model (CAM++ on onnxruntime), the one copy in the repository.

Used by the local speech service (diarization) and by reconciliation (voice evidence). It is not wire code:
neither side learns anything about the other's API through it.
"""
