"""DIV2K validation, high resolution: 100 PNGs, 2040 px on the long side (images 0801–0900).

The "DIV2K validation dataset … 100 images with high resolutions of 2K" of IAT (Cai et al. 2022).
Archive pins, from two sources that agree:

* tensorflow/datasets ``tensorflow_datasets/url_checksums/div2k.txt`` (commit ``1054f22``):
  ``https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip 448993893 20dd31fd…0900fc``;
* the same SHA-256 in several unrelated public projects' download scripts and dataset
  registries (one also records the server's Content-Length 448993893).
"""

from bench.plan.archives import RemoteArchive
from bench.plan.datasets import NamedDataset

DIV2K_VALID = NamedDataset(
    name="div2k-valid",
    description="DIV2K validation HR, 100 PNGs of 2K (one zip, folder DIV2K_valid_HR)",
    archive=RemoteArchive(
        url="https://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip",
        filename="DIV2K_valid_HR.zip",
        size=448_993_893,
        sha256="20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc",
        digest_source="tensorflow/datasets url_checksums/div2k.txt @ 1054f22 (size and digest), "
                      "and the same digest in independent public download scripts",
        member_folder="DIV2K_valid_HR",
        image_count=100,
        max_unpacked_bytes=2 << 30,
    ),
)
