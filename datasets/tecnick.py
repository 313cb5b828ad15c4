"""The old Tecnick set InvCompress used: 100 RGB images of 1200×1200 ("SAMPLING 1200 RGB").

Xie et al. 2021 evaluate on "the old Tecnick dataset … images with high resolutions of
1200×1200" (Asuni & Giachetti, TESTIMAGES). That is the ``OLD/OLD_SAMPLING/testimages.zip``
archive of the TESTIMAGES project on SourceForge, folder ``RGB/RGB_OR_1200x1200`` (100 PNGs), the
archive and folder that public evaluation code of learned codecs names for "Tecnick"; not the newer
40-image ``SAMPLING/8BIT/RGB/1200x1200`` release. The count is confirmed by the authors' own
numbers: every bpp in ``results/tecnick_mse.json`` of xyq7/InvCompress is a whole number of bits
summed over 100 images of 1 440 000 pixels (0.08284577… × 1.44e8 = 11 929 792), which 40 images
cannot give.

No public source gives this archive's SHA-256 or exact size (one dataset list says "511 MB"), so
it is trust on first use: the digest of the first archive fetched is recorded and later archives
must match it (``bench datasets list`` says so).
"""

from bench.plan.archives import RemoteArchive
from bench.plan.datasets import NamedDataset

TECNICK = NamedDataset(
    name="tecnick",
    description="old Tecnick TESTIMAGES, SAMPLING 1200 RGB: 100 PNGs of 1200x1200 (folder RGB_OR_1200x1200)",
    archive=RemoteArchive(
        url="https://sourceforge.net/projects/testimages/files/OLD/OLD_SAMPLING/testimages.zip/download",
        filename="testimages.zip",
        size=None,
        sha256=None,
        digest_source="no public source gives its SHA-256 or exact size",
        member_folder="RGB_OR_1200x1200",
        image_count=100,
        max_unpacked_bytes=2 << 30,
    ),
)
