"""Seeded random-initialised checkpoints of CompressAI zoo architectures at the zoo's own sizes.

The zoo's published weights need a download; speed and memory do not depend on the weights'
values, only on the architecture and its widths, so the benchmarks measure seeded models of the
size the zoo uses at a given quality (``compressai.zoo.image.cfgs``). The numbers they give for
bpp and PSNR mean nothing.

    python benchmarks/seeded_zoo.py ARCHITECTURE QUALITY OUT.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch


def seeded_checkpoint(architecture: str, path: Path, quality: int = 1) -> Path:
    """The zoo architecture at its size for ``quality`` (a variable-rate one: its one size), seed 0,
    saved as a bare state dict; fixed-rate models with their CDF tables, variable-rate ones without
    (CompressAI computes theirs per rate and can load them only so)."""
    from compressai.zoo import image, image_vbr

    torch.manual_seed(0)
    if architecture in image_vbr.model_architectures:
        extra = {"vr_entbttlnck": True} if architecture != "mbt2018-vbr" else {}
        model = image_vbr.model_architectures[architecture](*image_vbr.cfgs[architecture], **extra)
    else:
        model = image.model_architectures[architecture](*image.cfgs[architecture][quality])
        model.update(force=True)
    torch.save(model.state_dict(), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("architecture")
    parser.add_argument("quality", type=int)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(seeded_checkpoint(args.architecture, args.out, args.quality))


if __name__ == "__main__":
    main()
