"""Local speech processing: decoding, voice activity, recognition, speaker separation, speaker embeddings.

Used by the local Symbl-compatible service (`batch.emulator`) and, for speaker embeddings only, by
reconciliation. It knows nothing of the Symbl API or the batch client, and imports neither.

    from speech.pipeline import Pipeline
    transcript = Pipeline(threads=1).process_file(path, diarize=True, speaker_count=2)
"""
