"""CLIC 2020 professional validation: 41 high-resolution photographs (up to 2048 px a side).

The set IAT (Cai et al. 2022) and InvCompress (Xie et al. 2021) call "CLIC Professional
Validation" and CompressAI's ``results/image/clic2020-professional`` covers. One zip of PNGs.

Archive pins (the issue's values, each checked against public sources):

* URL ``https://storage.googleapis.com/clic_datasets/clic2020_professional_valid.zip`` (the
  download the challenge site links; also in public download scripts);
* SHA-256 ``e56568e2…39baf``: found identically in two unrelated public projects (a PowerShell
  fetch script that verifies it, and a benchmark report naming the same URL);
* 134,862,753 bytes: the Content-Length two further public protocol files record for that URL
  (GCS generation 1755735394217541).

tensorflow-datasets (``url_checksums/clic.txt``) pins an older upload of the same 41 images,
``https://data.vision.ee.ethz.ch/cvl/clic/professional_valid_2020.zip``, 134,834,429 bytes,
SHA-256 ``00be3809…236b7d``: a different archive, not used here.
"""

from bench.plan.archives import RemoteArchive
from bench.plan.datasets import NamedDataset

CLIC2020_PROFESSIONAL_VALID = NamedDataset(
    name="clic2020-professional-valid",
    description="CLIC 2020 professional validation, 41 high-resolution PNGs (one zip)",
    archive=RemoteArchive(
        url="https://storage.googleapis.com/clic_datasets/clic2020_professional_valid.zip",
        filename="clic2020_professional_valid.zip",
        size=134_862_753,
        sha256="e56568e20ead6bd215b313fed260d1c98b9ba863540039f00892ab67b1e39baf",
        digest_source="digest in two independent public download scripts/reports, size from two public "
                      "protocol files (Content-Length of this URL)",
        member_folder=None,
        image_count=41,
        max_unpacked_bytes=1 << 30,
    ),
)
